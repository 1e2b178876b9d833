import { connect } from 'node:tls';
import { redisNodesOf, type RedisNode, type RedisTopology } from './redis-topology';
import type { RedisTls } from './redis-tls';

/** node:tls codes of a server certificate that was not accepted. */
const CERTIFICATE_REFUSED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const CERTIFICATE_HINT =
  "the Redis server's TLS certificate was refused: REDIS_TLS_CA_FILE must hold the CA that signed it, and REDIS_TLS_SERVERNAME the name in it when Redis is reached by address";

/** What to log of a Redis connection error. */
export interface RedisErrorSummary {
  message: string;
  code?: string;
  /** Set when the server's certificate was refused: which settings decide it. */
  hint?: string;
}

const PROBE_TIMEOUT_MS = 2_000;

/** One TLS handshake with `node`: the node:tls error, or undefined when it completes (or says nothing in time). */
function handshakeError(node: RedisNode, tls: RedisTls): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: node.host, port: node.port, ...tls });
    const done = (err?: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(err);
    };
    const timer = setTimeout(() => done(), PROBE_TIMEOUT_MS);
    // on, not once: a refused handshake can be followed by the server's alert.
    socket.on('error', done);
    socket.once('secureConnect', () => done());
  });
}

/**
 * A Redis connection error as an operator can act on it. ioredis often reports only a
 * consequence: a Cluster "Failed to refresh slots cache." (the node's own error kept aside, or
 * dropped by the connection that asked), a Sentinel "All sentinels are unreachable", a command
 * "Connection is closed.". So with TLS on, one handshake with the first node the settings name
 * tells whether its certificate is refused, and the answer names the settings that decide it.
 */
export async function explainRedisError(err: Error, topology: RedisTopology): Promise<RedisErrorSummary> {
  const cause = (err as Error & { lastNodeError?: Error }).lastNodeError ?? err;
  const code = (cause as NodeJS.ErrnoException).code;
  const message = cause === err ? err.message : `${err.message} ${cause.message}`;
  if (code && CERTIFICATE_REFUSED.has(code)) return { message, code, hint: CERTIFICATE_HINT };
  const node = redisNodesOf(topology)[0];
  const refused = topology.tls && (await handshakeError(node, topology.tls));
  if (refused?.code && CERTIFICATE_REFUSED.has(refused.code)) {
    return { message: `${message} (TLS handshake with ${node.host}:${node.port}: ${refused.message})`, code: refused.code, hint: CERTIFICATE_HINT };
  }
  return { message, ...(code && { code }) };
}

/**
 * Calls `report` with the first error of each outage of `redis` (again after it was ready), not
 * on every retry: one line that says why, for a connection that keeps retrying on its own.
 */
export function reportRedisOutages(
  redis: { on(event: 'error', listener: (err: Error) => void): unknown; on(event: 'ready', listener: () => void): unknown },
  topology: RedisTopology,
  report: (summary: RedisErrorSummary) => void,
): void {
  let reported = false;
  redis.on('error', (err: Error) => {
    if (!reported) void explainRedisError(err, topology).then(report);
    reported = true;
  });
  redis.on('ready', () => {
    reported = false;
  });
}

/** An error that stops a boot, with the explanation in its message (the boot's last log line). */
export async function explainedRedisError(err: Error, topology: RedisTopology): Promise<Error> {
  const why = await explainRedisError(err, topology);
  return new Error(`Redis unreachable: ${why.message}${why.code ? ` (${why.code})` : ''}${why.hint ? `; ${why.hint}` : ''}`, { cause: err });
}
