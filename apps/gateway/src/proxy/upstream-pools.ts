import { Pool } from 'undici';
import type { GatewayConfig } from '../config/gateway-config';

/**
 * One keep-alive connection pool per upstream origin, shared by every proxy pointing there.
 * Pools are created when a revision is activated, not on the request path, and closed
 * (gracefully: in-flight requests finish) when no proxy of the current revision uses them.
 */
export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly upstream: GatewayConfig['upstream']) {}

  acquire(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connect: { timeout: this.upstream.connectTimeoutMs },
        headersTimeout: this.upstream.headersTimeoutMs,
        bodyTimeout: this.upstream.bodyTimeoutMs,
        keepAliveTimeout: this.upstream.keepAliveTimeoutMs,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** Closes the pools of origins no longer in use; returns the closed origins. */
  retainOnly(origins: ReadonlySet<string>): string[] {
    const closed: string[] = [];
    for (const [origin, pool] of this.pools) {
      if (origins.has(origin)) continue;
      this.pools.delete(origin);
      closed.push(origin);
      void pool.close().catch(() => pool.destroy());
    }
    return closed;
  }

  get origins(): string[] {
    return [...this.pools.keys()];
  }

  async closeAll(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => p.destroy())));
  }
}
