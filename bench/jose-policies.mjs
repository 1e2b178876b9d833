// Issue 14 benchmark: JOSE at the Gateway. POST of a 1 KB JSON body through (a) a proxy without
// policies, (b) jose-implementation signing the body (ES256), (c) jose-implementation encrypting
// it (RSA-OAEP-256 + A256GCM). One Gateway process per variant, same upstream, same load,
// interleaved rounds; the keys are project secrets published with the proxy (sealed with the
// test master key), as the Manager publishes them. Usage: node bench/jose-policies.mjs
//   BENCH_CONNECTIONS=50 BENCH_DURATION=5 BENCH_WARMUP=2 BENCH_ROUNDS=3 REDIS_URL=redis://127.0.0.1:6379
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from './lib/gateway-process.mjs';
import { runAutocannon } from './lib/load.mjs';
import { median } from './lib/report.mjs';
import { killAllNow, sampleProcess, startProcess, stopAll, stopProcess, waitForPortLine } from './lib/processes.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { EnvironmentConfigStore } = require(join(root, 'libs/config-bus/dist/index.js'));
const { SecretBox } = require(join(root, 'libs/domain/dist/index.js'));
const Redis = createRequire(join(root, 'libs/config-bus/package.json'))('ioredis');
const settings = {
  connections: Number(process.env.BENCH_CONNECTIONS ?? 50),
  durationSec: Number(process.env.BENCH_DURATION ?? 5),
  warmupSec: Number(process.env.BENCH_WARMUP ?? 2),
  rounds: Number(process.env.BENCH_ROUNDS ?? 3),
};
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const tmp = mkdtempSync(join(tmpdir(), 'idm-bench-jose-'));
process.on('exit', killAllNow);

const MASTER = { id: 'bench', key: randomBytes(32) };
const box = new SecretBox([MASTER]);
const BODY = JSON.stringify({ order: 42, items: 'x'.repeat(1024 - 27) });
const jwk = (key) => key.export({ format: 'jwk' });
const es256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const SECRET_ID = randomUUID();
const secret = (kind, privateKey, publicKey) => ({
  id: SECRET_ID,
  kind,
  versions: [
    {
      version: 1,
      kid: 'k1',
      publicJwk: jwk(publicKey),
      certificates: [],
      x5tS256: null,
      sealed: privateKey ? box.seal(JSON.stringify(jwk(privateKey))) : null,
      createdAt: new Date().toISOString(),
      retiresAt: null,
    },
  ],
});
const VARIANTS = {
  'no policy': { policies: [], secrets: [] },
  'jose sign ES256': {
    policies: [{ type: 'jose-implementation', config: { sign: { alg: 'ES256', key: { source: 'secret', secretId: SECRET_ID } } } }],
    secrets: [secret('private-key', es256.privateKey, es256.publicKey)],
  },
  'jose encrypt RSA-OAEP-256+A256GCM': {
    policies: [{ type: 'jose-implementation', config: { encrypt: { alg: 'RSA-OAEP-256', enc: 'A256GCM', key: { source: 'secret', secretId: SECRET_ID } } } }],
    secrets: [secret('public-key', null, rsa.publicKey)],
  },
};

async function startJoseGateway(name, upstreamPort, redis) {
  const environment = `bench-jose-${randomBytes(4).toString('hex')}`;
  const { policies, secrets } = VARIANTS[name];
  const proxy = {
    id: randomUUID(),
    projectId: randomUUID(),
    name: 'bench',
    basePath: '/bench',
    upstreamUrl: `http://127.0.0.1:${upstreamPort}`,
    methods: ['POST'],
    policies,
    ...(secrets.length && { secrets }),
  };
  await new EnvironmentConfigStore(redis).write({
    schemaVersion: 3,
    environment,
    epoch: 'bench',
    revision: 1,
    generatedAt: new Date().toISOString(),
    proxies: [proxy],
    credentials: [],
  });
  const { child, base } = await startGateway(root, {
    environment,
    logFile: join(tmp, `${environment}.log`),
    env: { IDM_MASTER_KEYS: `${MASTER.id}:${MASTER.key.toString('base64')}` },
  });
  const url = `${base}/bench/orders`;
  const probe = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
  const echoed = JSON.parse(await probe.text());
  if (probe.status !== 200) throw new Error(`${name}: ${probe.status}`);
  const expectedParts = name === 'no policy' ? 1 : name.includes('sign') ? 3 : 5;
  if (echoed.body.split('.').length !== expectedParts) throw new Error(`${name}: the upstream did not receive what the policy makes`);
  return { name, url, child, environment };
}

async function measure(target) {
  const load = { url: target.url, connections: settings.connections, headers: { 'content-type': 'application/json' }, method: 'POST', body: BODY };
  await runAutocannon(root, { ...load, durationSec: settings.warmupSec });
  const sampler = sampleProcess(target.child.pid);
  const started = process.hrtime.bigint();
  const result = await runAutocannon(root, { ...load, durationSec: settings.durationSec });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const s = sampler.stop();
  return { rps: result.rps, valid: result.valid, invalidReason: result.invalidReason, cores: s.cpuSeconds / elapsed, p50: result.p50Ms, p99: result.p99Ms };
}

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const upstream = startProcess(process.execPath, [join(root, 'bench/upstream.mjs')], { logFile: join(tmp, 'upstream.log'), stdin: 'pipe' });
const targets = [];
try {
  const upstreamPort = await waitForPortLine(upstream);
  for (const name of Object.keys(VARIANTS)) targets.push(await startJoseGateway(name, upstreamPort, redis));
  const results = Object.fromEntries(targets.map((t) => [t.name, []]));
  for (let r = 0; r < settings.rounds; r++) {
    for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
      log(`round ${r + 1}: ${t.name}`);
      results[t.name].push(await measure(t));
    }
  }
  console.log(`POST of a ${Buffer.byteLength(BODY)}-byte JSON body, ${settings.connections} connections, ${settings.rounds} rounds of ${settings.durationSec} s\n`);
  console.log('| target | RPS (median of rounds) | vs no policy (median of per-round ratios) | Gateway CPU cores | p50 ms | p99 ms | all rounds RPS |');
  console.log('|---|---|---|---|---|---|---|');
  const base = results['no policy'];
  for (const t of targets) {
    const runs = results[t.name];
    const valid = runs.filter((m) => m.valid);
    const ratios = runs.map((m, i) => (m.valid && base[i]?.valid ? m.rps / base[i].rps : null)).filter((x) => x !== null);
    const mid = (f) => (valid.length ? median(valid.map(f)) : NaN);
    console.log(
      `| ${t.name} | ${Math.round(mid((m) => m.rps))} | ${ratios.length ? median(ratios).toFixed(3) : '-'} | ${mid((m) => m.cores).toFixed(2)} | ${mid((m) => m.p50)} | ${mid((m) => m.p99)} | ${runs.map((x) => `${Math.round(x.rps)}${x.valid ? '' : ' (invalid: ' + x.invalidReason + ')'}`).join(', ')} |`,
    );
  }
} finally {
  for (const t of targets) await stopProcess(t.child);
  await stopAll();
  for (const t of targets) await new EnvironmentConfigStore(redis).remove(t.environment).catch(() => {});
  redis.disconnect();
  rmSync(tmp, { recursive: true, force: true });
}
