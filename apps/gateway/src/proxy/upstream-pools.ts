import type { UpstreamPolicy } from '@idm/domain';
import { Pool } from 'undici';
import type { GatewayConfig } from '../config/gateway-config';
import { guardedConnector } from './upstream-connector';

/**
 * One keep-alive connection pool per upstream origin, shared by every proxy pointing there.
 * Pools are created when a revision is activated, not on the request path, and closed
 * (gracefully: in-flight requests finish) when no proxy of the current revision uses them.
 * Every connection they open is checked against the upstream policy first (upstream-connector).
 */
export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();

  constructor(
    private readonly upstream: GatewayConfig['upstream'],
    private readonly policy: UpstreamPolicy,
  ) {}

  acquire(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connect: guardedConnector(this.policy, new URL(origin), { timeout: this.upstream.connectTimeoutMs }),
        headersTimeout: this.upstream.headersTimeoutMs,
        bodyTimeout: this.upstream.bodyTimeoutMs,
        keepAliveTimeout: this.upstream.keepAliveTimeoutMs,
        // Beyond this, requests queue in the pool instead of opening ever more sockets.
        connections: this.upstream.connections,
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
