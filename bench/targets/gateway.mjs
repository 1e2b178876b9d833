// Target (d): the real Gateway (apps/gateway/dist/main.js), configured without a Manager by
// writing a config snapshot to Redis exactly as the Manager does (EnvironmentConfigStore.write), with one
// proxy under /bench guarded by the `api-key` policy.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { freePort, startNode, stopProcess } from '../lib/processes.mjs';
import { gatewayNodeArgs } from '../lib/gateway-node-args.mjs';
import { httpGet, waitForHttp } from '../lib/http.mjs';
import { removeKeysNaming } from '../lib/redis.mjs';
import { SkipTarget } from '../lib/skip-target.mjs';

const API_KEY_HEADER = 'x-api-key';

function benchSnapshot(environment, upstreamPort, apiKey) {
  const projectId = randomUUID();
  return {
    schemaVersion: 3,
    epoch: 'bench',
    environment,
    revision: 1,
    generatedAt: new Date().toISOString(),
    proxies: [
      {
        id: randomUUID(),
        projectId,
        name: 'bench',
        basePath: '/bench',
        upstreamUrl: `http://127.0.0.1:${upstreamPort}`,
        methods: ['GET'],
        policies: [{ type: 'api-key', config: { header: API_KEY_HEADER, queryParam: null, stripCredential: true } }],
      },
    ],
    credentials: [
      {
        id: randomUUID(),
        projectId,
        username: 'bench',
        passwordHash: null,
        enabled: true,
        expiresAt: null,
        apiKeys: [{ id: randomUUID(), prefix: apiKey.prefix, hash: apiKey.hash, expiresAt: null }],
      },
    ],
  };
}

async function connectRedis(root, url) {
  const requireFromBus = createRequire(join(root, 'libs/config-bus/package.json'));
  const Redis = requireFromBus('ioredis');
  const RedisClass = Redis.default ?? Redis;
  const redis = new RedisClass(url, { maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: true, retryStrategy: () => null });
  redis.on('error', () => {}); // surfaced through the awaited commands below
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new SkipTarget(`Redis at ${url} is not reachable (${err.message})`);
  }
  return redis;
}

/** Removes every key this run's environment produced (snapshot, revision, anything else named after it). */
async function removeEnvironmentKeys(redis, store, environment) {
  await store.remove(environment);
  await removeKeysNaming(redis, [environment]);
}

export const gateway = {
  key: 'd',
  name: 'Gateway (api-key)',
  async start({ root, upstream, tmp, defer, log, wrap }) {
    const main = process.env.BENCH_GATEWAY_MAIN ?? join(root, 'apps/gateway/dist/main.js');
    if (!existsSync(main)) throw new SkipTarget('apps/gateway/dist/main.js does not exist yet (run `npx turbo run build`)');
    const require = createRequire(import.meta.url);
    const { EnvironmentConfigStore } = require(join(root, 'libs/config-bus/dist/index.js'));
    const { generateApiKey } = require(join(root, 'libs/domain/dist/index.js'));

    const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const redis = await connectRedis(root, redisUrl);
    const store = new EnvironmentConfigStore(redis);
    const environment = `bench-${randomBytes(4).toString('hex')}`;
    defer(async () => {
      try {
        await removeEnvironmentKeys(redis, store, environment);
        log(`removed Redis keys of environment ${environment}`);
      } finally {
        redis.disconnect();
      }
    });

    const apiKey = generateApiKey();
    if (!(await store.write(benchSnapshot(environment, upstream.port, apiKey)))) throw new Error(`snapshot for ${environment} was not written`);

    const port = await freePort();
    const nodeArgs = gatewayNodeArgs(root); // as in production, plus BENCH_GATEWAY_NODE_ARGS
    const child = startNode(
      [...nodeArgs, main],
      {
        cwd: join(root, 'apps/gateway'),
        env: {
          ...process.env,
          GATEWAY_PORT: String(port),
          GATEWAY_HOST: '127.0.0.1',
          GATEWAY_ENVIRONMENT: environment,
          REDIS_URL: redisUrl,
          LOG_LEVEL: 'warn',
          NODE_ENV: process.env.NODE_ENV ?? 'production',
          UPSTREAM_ALLOW: '127.0.0.1',
        },
        logFile: join(tmp, 'gateway.log'),
      },
      wrap,
    );
    const base = `http://127.0.0.1:${port}`;
    const url = `${base}/bench/items`;
    try {
      // Under a wrapper such as valgrind, start-up and first requests are many times slower.
      await waitForHttp(`${base}/health/ready`, {}, 200, wrap ? 300_000 : 30_000, child);
      const checks = await sanityChecks(url, apiKey.key, wrap ? 60_000 : 2000);
      return {
        url,
        headers: { [API_KEY_HEADER]: apiKey.key },
        pid: child.pid,
        environment,
        checks,
        logFile: join(tmp, 'gateway.log'),
        stop: () => stopProcess(child),
        output: () => child.tail,
      };
    } catch (err) {
      await stopProcess(child);
      throw err;
    }
  },
};

/** Proves the policy is really on the path before we measure it. */
async function sanityChecks(url, key, timeoutMs) {
  const without = await httpGet(url, {}, timeoutMs);
  const wrong = await httpGet(url, { [API_KEY_HEADER]: key.slice(0, -2) + 'xx' }, timeoutMs);
  const withKey = await httpGet(url, { [API_KEY_HEADER]: key }, timeoutMs);
  let upstreamSawKey = null;
  let upstreamPath = null;
  try {
    const echo = JSON.parse(withKey.body);
    upstreamSawKey = API_KEY_HEADER in (echo.headers ?? {});
    upstreamPath = echo.path;
  } catch {
    /* not the echo body */
  }
  const checks = {
    withoutKeyStatus: without.status,
    wrongKeyStatus: wrong.status,
    withKeyStatus: withKey.status,
    upstreamPath,
    credentialStripped: upstreamSawKey === null ? null : !upstreamSawKey,
  };
  if (withKey.status !== 200) throw new Error(`Gateway answered ${withKey.status} with a valid key: ${withKey.body.slice(0, 300)}`);
  if (without.status !== 401 || wrong.status !== 401) {
    throw new Error(`api-key policy not enforced: no key -> ${without.status}, wrong key -> ${wrong.status} (expected 401)`);
  }
  return checks;
}
