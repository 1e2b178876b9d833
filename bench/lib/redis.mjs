// Redis for the benchmarks. A server of the run's own (Debian's redis-server on a free loopback
// port, no persistence): its INFO byte counters then count only what the run's Manager and
// Gateways exchange, which the shared Redis used by other engineers cannot give, and stopping it
// removes every key it held.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { freePort, startProcess, stopProcess } from './processes.mjs';

export function redisServerAvailable() {
  return spawnSync('redis-server', ['--version']).status === 0;
}

export async function startPrivateRedis(root, dir) {
  const port = await freePort();
  const child = startProcess('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    logFile: join(dir, 'redis.log'),
  });
  const url = `redis://127.0.0.1:${port}`;
  const redis = await connectRedis(root, url);
  return {
    url,
    redis,
    stop: async () => {
      redis.disconnect();
      await stopProcess(child);
    },
  };
}

/** An ioredis client from the workspace (the same library the apps use), connected or throwing. */
export async function connectRedis(root, url, attempts = 50) {
  const Redis = createRequire(join(root, 'libs/config-bus/package.json'))('ioredis');
  const RedisClass = Redis.default ?? Redis;
  for (let i = 1; ; i++) {
    const redis = new RedisClass(url, { maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: true, retryStrategy: () => null });
    redis.on('error', () => {}); // surfaced by the awaited commands
    try {
      await redis.connect();
      await redis.ping();
      return redis;
    } catch (err) {
      redis.disconnect();
      if (i >= attempts) throw new Error(`Redis at ${url} is not reachable (${err.message})`, { cause: err });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Bytes the server received and sent since it started (INFO stats), every client included. */
export async function redisNetBytes(redis) {
  const info = await redis.info('stats');
  const field = (name) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
  return { input: field('total_net_input_bytes'), output: field('total_net_output_bytes') };
}

/** Bytes the server holds (INFO memory `used_memory`): the environments' entities, change logs and the rest. */
export async function redisUsedMemory(redis) {
  return Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1] ?? NaN);
}

/** Deletes every key whose name contains one of `names` (for a shared server). */
export async function removeKeysNaming(redis, names) {
  for (const name of names) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${name}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
}
