import type Redis from 'ioredis';
import { z } from 'zod';

/**
 * Which Gateways serve an environment right now, as they report themselves: each Gateway writes
 * its status every few seconds with a time to live, so one that stops (or loses Redis) drops out
 * once its last report expires, with no one to clean up after it. The Manager lists them for
 * admins; the database is never involved (runtime state of the edge, like brute-force blocks).
 *
 * Redis (every key in one Cluster slot through the hash tag `{idm:gw:<env>}`):
 * - `seen`        ZSET   gateway id -> last report (epoch ms): the index, so listing needs no SCAN
 * - `gateway:<id>` STRING the last report (JSON, below), expiring after the reporter's TTL
 * An index entry whose report expired is skipped when listing and pruned by the next report of
 * any Gateway of the environment once it is an hour old.
 */
export const gatewayPresenceSchema = z.object({
  /** GATEWAY_ID, or host name and process id. */
  id: z.string().regex(/^[A-Za-z0-9._:-]{1,200}$/),
  environment: z.string(),
  /** The Gateway's release (its package version). */
  version: z.string().max(64),
  /** The publication epoch and revision it serves; null before its first load. */
  epoch: z.string().nullable(),
  revision: z.number().int().nonnegative().nullable(),
  /** When that revision became the served one (epoch ms). */
  appliedAt: z.number().nullable(),
  /** Serving: a revision compiled and the revoked token list read (its /health/ready). */
  ready: z.boolean(),
  /** Proxied requests answered per second since its previous report. */
  requestsPerSecond: z.number().nonnegative(),
  startedAt: z.number(),
  /** When it wrote this report (its clock, epoch ms). */
  reportedAt: z.number(),
});
export type GatewayPresence = z.infer<typeof gatewayPresenceSchema>;

/** Index entries older than this are pruned (their reports expired long ago). */
const INDEX_RETENTION_MS = 60 * 60_000;
/** The most Gateways one listing reads (a fleet is dozens; this bounds a runaway index). */
const LIST_LIMIT = 1_000;

export function gatewayPresenceKeys(environment: string) {
  const prefix = `{idm:gw:${environment}}`;
  return { seen: `${prefix}:seen`, report: (id: string) => `${prefix}:gateway:${id}` };
}

export class GatewayPresenceStore {
  private readonly keys: ReturnType<typeof gatewayPresenceKeys>;

  constructor(
    private readonly redis: Redis,
    environment: string,
  ) {
    this.keys = gatewayPresenceKeys(environment);
  }

  /** Writes one report, valid for `ttlMs`; the index and the report change together. */
  async report(presence: GatewayPresence, ttlMs: number): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.report(presence.id), JSON.stringify(presence), 'PX', ttlMs)
      .zadd(this.keys.seen, presence.reportedAt, presence.id)
      .zremrangebyscore(this.keys.seen, '-inf', presence.reportedAt - INDEX_RETENTION_MS)
      .pexpire(this.keys.seen, INDEX_RETENTION_MS)
      .exec();
  }

  /** A Gateway shutting down leaves at once rather than after its TTL. */
  async withdraw(id: string): Promise<void> {
    await this.redis.multi().del(this.keys.report(id)).zrem(this.keys.seen, id).exec();
  }

  /** The Gateways whose last report has not expired, most recently seen first; malformed reports are skipped. */
  async list(): Promise<GatewayPresence[]> {
    const ids = await this.redis.zrevrange(this.keys.seen, 0, LIST_LIMIT - 1);
    if (ids.length === 0) return [];
    const reports = await this.redis.mget(...ids.map((id) => this.keys.report(id)));
    const found: GatewayPresence[] = [];
    for (const raw of reports) {
      if (raw === null) continue;
      const parsed = gatewayPresenceSchema.safeParse(parseJson(raw));
      if (parsed.success) found.push(parsed.data);
    }
    return found;
  }
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}
