// Issue 5 benchmark: Gateway throughput with api-key + ACL + IP group + rate limit (Redis, per
// credential) versus api-key alone. One Gateway process per variant, same upstream, same load,
// interleaved rounds (A B A B ...). Usage: node bench/credential-rules.mjs
//   BENCH_CONNECTIONS=50 BENCH_DURATION=6 BENCH_WARMUP=2 BENCH_ROUNDS=4 REDIS_URL=redis://127.0.0.1:6379
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from './lib/gateway-process.mjs';
import { httpGet } from './lib/http.mjs';
import { runAutocannon } from './lib/load.mjs';
import { median } from './lib/report.mjs';
import { killAllNow, sampleProcess, startProcess, stopAll, stopProcess, waitForPortLine } from './lib/processes.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { EnvironmentConfigStore } = require(join(root, 'libs/config-bus/dist/index.js'));
const { generateApiKey } = require(join(root, 'libs/domain/dist/index.js'));
const Redis = createRequire(join(root, 'libs/config-bus/package.json'))('ioredis');
const settings = {
  connections: Number(process.env.BENCH_CONNECTIONS ?? 50),
  durationSec: Number(process.env.BENCH_DURATION ?? 6),
  warmupSec: Number(process.env.BENCH_WARMUP ?? 2),
  // Several short interleaved rounds: on shared cores one round's RPS can move by a third, so the
  // verdict is the median of the per-round ratios, not a ratio of two lucky rounds.
  rounds: Number(process.env.BENCH_ROUNDS ?? 4),
};
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const tmp = mkdtempSync(join(tmpdir(), 'idm-bench-rules-'));
process.on('exit', killAllNow);

const RULES = {
  acl: { allowedMethods: ['GET'], deniedEndpoints: [{ path: '/admin/**' }], allowedEndpoints: [{ path: '/items/**' }] },
  ip: { allow: [{ name: 'loopback', cidrs: ['127.0.0.0/8', '::1'] }], deny: [{ name: 'blocked', cidrs: ['10.66.0.0/16'] }] },
  // High enough never to refuse during the run: what is measured is the cost of counting.
  rateLimit: { limits: [{ limit: 1_000_000_000, windowSeconds: 60 }], onStoreUnavailable: 'deny' },
};

function snapshot(environment, upstreamPort, apiKey, access) {
  const projectId = randomUUID();
  return {
    schemaVersion: 3,
    environment,
    epoch: 'bench',
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
        policies: [{ type: 'api-key', config: {} }],
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
        access,
        apiKeys: [{ id: randomUUID(), prefix: apiKey.prefix, hash: apiKey.hash, expiresAt: null }],
      },
    ],
  };
}

async function startRulesGateway(name, access, upstreamPort, redis) {
  const environment = `bench-rules-${randomBytes(4).toString('hex')}`;
  const apiKey = generateApiKey();
  await new EnvironmentConfigStore(redis).write(snapshot(environment, upstreamPort, apiKey, access));
  const { child, base } = await startGateway(root, { environment, logFile: join(tmp, `${name}.log`) }); // REDIS_URL: the same as `redis`'s
  const url = `${base}/bench/items/1`;
  const ok = await httpGet(url, { 'x-api-key': apiKey.key });
  if (ok.status !== 200) throw new Error(`${name}: ${ok.status} ${ok.body}`);
  if (access.acl) {
    const denied = await httpGet(`${base}/bench/admin/x`, { 'x-api-key': apiKey.key });
    if (denied.status !== 403) throw new Error(`${name}: ACL not enforced (${denied.status})`);
    if (!ok.headers['ratelimit-limit']) throw new Error(`${name}: rate limit not on the path`);
  }
  return { name, url, headers: { 'x-api-key': apiKey.key }, child, environment };
}

/** The Redis server's own CPU so far (INFO cpu, seconds): what serving the Gateway costs Redis (docs/scaling.md's sizing). */
async function redisCpuSeconds(redis) {
  const info = await redis.info('cpu');
  const field = (name) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)[1]);
  return field('used_cpu_sys') + field('used_cpu_user');
}

async function measure(target, redis) {
  const load = { url: target.url, connections: settings.connections, headers: target.headers };
  await runAutocannon(root, { ...load, durationSec: settings.warmupSec });
  const sampler = sampleProcess(target.child.pid);
  const redisBefore = await redisCpuSeconds(redis);
  const started = process.hrtime.bigint();
  const result = await runAutocannon(root, { ...load, durationSec: settings.durationSec });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const s = sampler.stop();
  const redisUsPerRequest = (((await redisCpuSeconds(redis)) - redisBefore) * 1e6) / result.requests;
  return {
    rps: result.rps,
    valid: result.valid,
    invalidReason: result.invalidReason,
    cores: s.cpuSeconds / elapsed,
    maxRssMb: s.maxRssMb,
    p50: result.p50Ms,
    p99: result.p99Ms,
    redisUsPerRequest,
  };
}

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const upstream = startProcess(process.execPath, [join(root, 'bench/upstream.mjs')], { logFile: join(tmp, 'upstream.log'), stdin: 'pipe' });
const targets = [];
try {
  const upstreamPort = await waitForPortLine(upstream);
  targets.push(await startRulesGateway('api-key', {}, upstreamPort, redis));
  targets.push(await startRulesGateway('api-key+acl+ip+rate-limit', RULES, upstreamPort, redis));
  const results = Object.fromEntries(targets.map((t) => [t.name, []]));
  for (let r = 0; r < settings.rounds; r++) {
    for (const t of targets) {
      log(`round ${r + 1}: ${t.name}`);
      results[t.name].push(await measure(t, redis));
    }
  }
  // µs of Redis CPU per request = cores of Redis per 1,000 requests/s, in thousandths.
  const redisPerRequest = (name) => {
    const us = median(results[name].filter((m) => m.valid).map((m) => m.redisUsPerRequest));
    return `${us.toFixed(1)} µs (${(us / 1000).toFixed(3)} core per 1k RPS)`;
  };
  const best = (name) => results[name].filter((m) => m.valid).sort((a, b) => b.rps - a.rps)[0];
  const base = best('api-key');
  const rules = best('api-key+acl+ip+rate-limit');
  console.log('| target | RPS (best round) | Gateway CPU cores | RPS per core | max RSS MB | Redis CPU per request (median) | all rounds RPS |');
  console.log('|---|---|---|---|---|---|---|');
  for (const t of targets) {
    const m = best(t.name);
    console.log(
      `| ${t.name} | ${m ? Math.round(m.rps) : 'invalid'} | ${m?.cores.toFixed(2)} | ${m ? Math.round(m.rps / m.cores) : '-'} | ${m?.maxRssMb} | ${redisPerRequest(t.name)} | ${results[t.name].map((x) => `${Math.round(x.rps)}${x.valid ? '' : ' (invalid: ' + x.invalidReason + ')'}`).join(', ')} |`,
    );
  }
  const paired = results['api-key'].map((a, i) => [a, results['api-key+acl+ip+rate-limit'][i]]).filter(([a, b]) => a.valid && b?.valid);
  if (paired.length > 0) {
    const rpsRatios = paired.map(([a, b]) => b.rps / a.rps);
    const coreRatios = paired.map(([a, b]) => b.rps / b.cores / (a.rps / a.cores));
    console.log(`\nper-round ratios rules/api-key (RPS): ${rpsRatios.map((x) => x.toFixed(3)).join(', ')}`);
    console.log(
      `ratio rules/api-key (median of rounds): RPS ${median(rpsRatios).toFixed(3)}, per core ${median(coreRatios).toFixed(3)} (target >= 0.9); best rounds: ${base && rules ? (rules.rps / base.rps).toFixed(3) : '-'}`,
    );
  }
} finally {
  for (const t of targets) await stopProcess(t.child);
  await stopAll();
  for (const t of targets) {
    await new EnvironmentConfigStore(redis).remove(t.environment).catch(() => {});
    const keys = await redis.keys(`*${t.environment}*`);
    if (keys.length) await redis.del(...keys);
  }
  redis.disconnect();
  rmSync(tmp, { recursive: true, force: true });
}
