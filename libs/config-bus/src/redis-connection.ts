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
 * (ioredis clients, BullMQ queues and workers, the @nestjs/microservices Redis transport, which
 * takes no URL). Each used to pick its own fields, and the Manager's transport dropped TLS,
 * username and database: `rediss://` passed validation and then connected in clear.
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

/** Options of the @nestjs/microservices Redis transport (client and server) for `url`. */
export function redisTransportOptions(url: string, retryDelayMs = 1_000): RedisEndpoint & { retryAttempts: number; retryDelay: number } {
  return {
    ...redisConnectionOptions(url),
    // The transport gives up after `retryAttempts` (and without it never reconnects); an app must keep trying for as long as it runs.
    retryAttempts: Number.MAX_SAFE_INTEGER,
    retryDelay: retryDelayMs,
  };
}
