import type { IncomingMessage } from 'node:http';
import type Redis from 'ioredis';
import type { Logger } from 'pino';

/** Counts one start in the address's window (opened by its first start) and answers the count and the window's milliseconds left. */
const COUNT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}`;
const WINDOW_MS = 60_000;

type CountCommand = (key: string, windowMs: number) => Promise<[number, number]>;

/**
 * A limit on "Sign in with <source>" starts per client address (`/external/start`): each start
 * stores a login record in Redis and sends the browser to the IdP (a signed AuthnRequest, a
 * discovery fetch), so an unthrottled start is a cheap way to fill Redis and to make the Gateway
 * flood an IdP. Counted in Redis, so every Gateway shares the window; the address is read as the
 * failure limits read it (a forwarded-for header only from a trusted hop). Redis unreachable: the
 * start goes on (its own record needs Redis and fails there), logged.
 */
export class ExternalStartLimit {
  private lastReport = 0;

  constructor(
    private readonly redis: Redis,
    private readonly environment: string,
    private readonly perMinute: number,
    private readonly addressOf: (peer: string, headers: IncomingMessage['headers']) => string,
    private readonly log: Logger,
  ) {
    if (!(redis as unknown as { idmCountExternalStart?: unknown }).idmCountExternalStart) redis.defineCommand('idmCountExternalStart', { numberOfKeys: 1, lua: COUNT });
  }

  /** Seconds the address must wait before its next start, or 0 when it may start now (this start counted). */
  async retryAfter(req: IncomingMessage): Promise<number> {
    if (this.perMinute === 0) return 0;
    const address = this.addressOf(req.socket.remoteAddress ?? '', req.headers);
    try {
      const [count, ttl] = await (this.redis as unknown as { idmCountExternalStart: CountCommand }).idmCountExternalStart(
        `{idm:oidc:${this.environment}}:external-start:${address}`,
        WINDOW_MS,
      );
      return count > this.perMinute ? Math.max(1, Math.ceil(ttl / 1000)) : 0;
    } catch (err) {
      if (Date.now() - this.lastReport > 10_000) {
        this.lastReport = Date.now();
        this.log.warn({ err: { message: (err as Error)?.message } }, 'the external sign-in start limit cannot be counted (Redis); starts are not limited meanwhile');
      }
      return 0;
    }
  }
}
