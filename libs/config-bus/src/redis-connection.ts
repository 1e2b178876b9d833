import type { ConnectionOptions } from 'node:tls';

/** Where and how to connect; a plain shape every client's option type (ioredis, BullMQ, Nest) accepts. */
export interface RedisEndpoint {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls?: ConnectionOptions;
}

/**
 * The one reading of a `redis://` / `rediss://` URL for every Redis connection of both apps
 * (through createRedisClient: ioredis clients, BullMQ queues and workers, the Redis transport).
 * Each used to pick its own fields, and the Manager's transport dropped TLS, username and `rediss://` passed validation and then connected in clear.
 */
export function redisConnectionOptions(url: string): RedisEndpoint {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`Redis URL must be redis:// or rediss://, not ${u.protocol}//`);
  const database = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(database) || database < 0) throw new Error(`Redis URL database must be a non-negative integer, not "${u.pathname.slice(1)}"`);
  // WHATWG URLs keep IPv6 literals in brackets; sockets want the bare address.
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    host,
    port: Number(u.port || 6379),
    db: database,
    ...(u.username && { username: decodeURIComponent(u.username) }),
    ...(u.password && { password: decodeURIComponent(u.password) }),
    // node:tls verifies the certificate against `host` and sends it as SNI (its defaults).
    ...(u.protocol === 'rediss:' && { tls: {} }),
  };
}
