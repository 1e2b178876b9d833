// `oidc` policy benchmark (issue #15): one Gateway process, two proxies on the same upstream:
//   `/oidc`: the `oidc` policy (the Gateway as relying party), called with a valid OIDC_SESSION
//            cookie (an API call: Accept application/json);
//   `/key`:  api-key.
// The session is established once, before the timed rounds, through a real login: the Gateway
// sends the browser to the OP (oidc-provider, npm, the `oidc` policy specs' OP:
// apps/gateway/test/support/oidc-rp-issuer.mjs, in its own process), its login and consent pages
// are submitted, the callback exchanges the code. Target: oidc >= 0.9x api-key req/s, interleaved
// rounds, judged on the median of the per-round ratios. Load: autocannon in its own process.
// Usage: node bench/oidc-policy.mjs
//   BENCH_CONNECTIONS=50 BENCH_DURATION=5 BENCH_WARMUP=2 BENCH_ROUNDS=6 REDIS_URL=redis://127.0.0.1:6379
//   BENCH_GATEWAY_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the Gateway under this load
import { randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CookieJar, walkLogin } from './lib/browser-login.mjs';
import { startGateway } from './lib/gateway-process.mjs';
import { httpGet } from './lib/http.mjs';
import { runAutocannon } from './lib/load.mjs';
import { median } from './lib/report.mjs';
import { freePort, killAllNow, sampleProcess, startProcess, stopAll, waitForPortLine } from './lib/processes.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { EnvironmentConfigStore } = require(join(root, 'libs/config-bus/dist/index.js'));
const { SecretBox, generateApiKey } = require(join(root, 'libs/domain/dist/index.js'));
const { DEVELOPMENT_MASTER_KEY } = require(join(root, 'libs/platform/dist/index.js'));
const Redis = createRequire(join(root, 'libs/config-bus/package.json'))('ioredis');
const settings = {
  connections: Number(process.env.BENCH_CONNECTIONS ?? 50),
  durationSec: Number(process.env.BENCH_DURATION ?? 5),
  warmupSec: Number(process.env.BENCH_WARMUP ?? 2),
  rounds: Number(process.env.BENCH_ROUNDS ?? 6),
};
const log = (m) => process.stderr.write(`[bench] ${m}\n`);
process.on('exit', killAllNow);
const box = new SecretBox([DEVELOPMENT_MASTER_KEY]);
/** gateway-rp's secret at the OP (apps/gateway/test/support/oidc-rp-issuer.mjs). */
const CLIENT_SECRET = 'rp-secret-0123456789abcdef';

/** A project secret of kind shared-secret, as the Manager publishes it with the proxy (sealed). */
const sharedSecret = (id, plain) => ({
  id,
  kind: 'shared-secret',
  versions: [
    {
      version: 1,
      kid: 'v1',
      publicJwk: null,
      certificates: [],
      x5tS256: null,
      sealed: box.seal(JSON.stringify({ kty: 'oct', k: Buffer.from(plain, 'utf8').toString('base64url'), kid: 'v1' })),
      createdAt: new Date().toISOString(),
      retiresAt: null,
    },
  ],
});

function snapshot(environment, upstreamPort, issuer, apiKey) {
  const projectId = randomUUID();
  const clientSecretId = randomUUID();
  const cookieSecretId = randomUUID();
  const proxy = (name, policies, secrets) => ({
    id: randomUUID(),
    projectId,
    name,
    basePath: `/${name}`,
    upstreamUrl: `http://127.0.0.1:${upstreamPort}`,
    methods: ['GET'],
    policies,
    ...(secrets && { secrets }),
  });
  return {
    schemaVersion: 3,
    environment,
    epoch: 'bench',
    revision: 1,
    generatedAt: new Date().toISOString(),
    proxies: [
      proxy(
        'oidc',
        [{ type: 'oidc', config: { issuer, clientId: 'gateway-rp', clientSecretId, cookieSecretId, cookieSecure: false, scopes: ['openid', 'email'] } }],
        [sharedSecret(clientSecretId, CLIENT_SECRET), sharedSecret(cookieSecretId, randomBytes(32).toString('hex'))],
      ),
      proxy('key', [{ type: 'api-key', config: {} }]),
    ],
    credentials: [
      {
        id: randomUUID(),
        projectId,
        username: 'bench',
        passwordHash: null,
        enabled: true,
        expiresAt: null,
        roles: [],
        apiKeys: [{ id: randomUUID(), prefix: apiKey.prefix, hash: apiKey.hash, expiresAt: null }],
      },
    ],
  };
}

/** A browser's login through the Gateway and the OP's pages; returns its OIDC_SESSION cookie. */
async function login(base) {
  const jar = new CookieJar();
  const page = `${base}/oidc/items/1`;
  const started = await jar.send(page);
  if (started.status !== 302) throw new Error(`${page} without a session: HTTP ${started.status} ${(await started.text()).slice(0, 300)}`);
  // Through the OP's login and consent pages and the Gateway's callback, back to the page asked for.
  await walkLogin(jar, new URL(started.headers.get('location'), page).href, { username: 'alice', password: 'any', until: (url) => url === page });
  const session = jar.get(base, 'OIDC_SESSION');
  if (!session) throw new Error('the login ended without an OIDC_SESSION cookie');
  return session;
}

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const environment = `bench-oidc-rp-${randomBytes(4).toString('hex')}`;
const loadBefore = loadavg();
try {
  const upstream = startProcess(process.execPath, [join(root, 'bench/upstream.mjs')], { logFile: '/tmp/idm-bench-oidc-rp-upstream.log', stdin: 'pipe' });
  const upstreamPort = await waitForPortLine(upstream);
  // The OP must know the Gateway's callback before either starts: the Gateway's port is reserved first.
  const gatewayPort = await freePort();
  const gatewayBase = `http://127.0.0.1:${gatewayPort}`;
  const op = startProcess(process.execPath, [join(root, 'apps/gateway/test/support/oidc-rp-issuer.mjs'), `${gatewayBase}/oidc/.oidc/callback`, `${gatewayBase}/oidc/bye`], {
    cwd: root,
    logFile: '/tmp/idm-bench-oidc-rp-op.log',
    stdin: 'pipe',
  });
  const issuer = `http://127.0.0.1:${await waitForPortLine(op)}`;
  const apiKey = generateApiKey();
  await new EnvironmentConfigStore(redis).write(snapshot(environment, upstreamPort, issuer, apiKey));
  const gateway = await startGateway(root, { environment, port: gatewayPort, logFile: '/tmp/idm-bench-oidc-rp-gateway.log' });
  log('logging in through the OP');
  const session = await login(gateway.base);
  const targets = {
    oidc: { url: `${gateway.base}/oidc/items/1`, headers: { cookie: `OIDC_SESSION=${session}`, accept: 'application/json' } },
    key: { url: `${gateway.base}/key/items/1`, headers: { 'x-api-key': apiKey.key, accept: 'application/json' } },
  };
  // The session must be what passes the oidc proxy: the upstream sees the OP's user.
  const probe = await httpGet(targets.oidc.url, targets.oidc.headers);
  const seen = probe.status === 200 ? JSON.parse(probe.body).headers?.['x-authenticated-userid'] : undefined;
  if (seen !== 'alice') throw new Error(`oidc probe: HTTP ${probe.status}, upstream saw user ${seen}: ${probe.body.slice(0, 300)}`);
  if ((await httpGet(targets.key.url, targets.key.headers)).status !== 200) throw new Error('api-key probe failed');
  // One untimed pass of each first: the first load on a fresh Gateway (JIT, pools) is not either side's figure.
  for (const name of ['oidc', 'key']) await runAutocannon(root, { ...targets[name], connections: settings.connections, durationSec: settings.warmupSec });
  const results = { oidc: [], key: [] };
  const cores = { oidc: [], key: [] };
  for (let round = 0; round < settings.rounds; round++) {
    // Each pair back to back, in alternating order, so a drift of the machine favours neither side.
    for (const name of round % 2 === 0 ? ['oidc', 'key'] : ['key', 'oidc']) {
      log(`round ${round + 1}: ${name}`);
      const load = { ...targets[name], connections: settings.connections };
      await runAutocannon(root, { ...load, durationSec: settings.warmupSec });
      const sampler = sampleProcess(gateway.pid);
      const r = await runAutocannon(root, { ...load, durationSec: settings.durationSec });
      cores[name].push(sampler.stop().cpuSeconds / settings.durationSec);
      if (!r.valid) log(`${name}: round invalid: ${r.invalidReason}`);
      results[name].push(r.valid ? r.rps : NaN);
    }
  }
  // Still the same session after the load: nothing in the rounds ended or replaced it.
  const after = await httpGet(targets.oidc.url, targets.oidc.headers);
  if (after.status !== 200) throw new Error(`the session stopped working during the run: HTTP ${after.status}`);
  const ratios = results.oidc.map((o, i) => o / results.key[i]);
  const ratio = median(ratios.filter(Number.isFinite));
  const fmt = (xs) => xs.map((x) => (Number.isFinite(x) ? Math.round(x) : 'invalid')).join(', ');
  const avgCores = (xs) => (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(2);
  // Gateway CPU per request: less sensitive to the neighbours than req/s (a request waiting for a
  // Redis process that is not scheduled costs time, not CPU).
  const cpuPerRequest = (name) => median(cores[name].map((c, i) => (c / results[name][i]) * 1e6).filter(Number.isFinite)).toFixed(0);
  console.log(
    `machine: ${cpus().length} cores, load average before ${loadBefore.map((l) => l.toFixed(2)).join(' / ')}, after ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' / ')}`,
  );
  console.log('| measurement | req/s per round | Gateway cores (mean) | Gateway CPU µs per request (median) | ratio (median of rounds) | target | met |');
  console.log('|---|---|---|---|---|---|---|');
  console.log(`| api-key | ${fmt(results.key)} | ${avgCores(cores.key)} | ${cpuPerRequest('key')} | | | |`);
  console.log(`| oidc policy, valid session cookie | ${fmt(results.oidc)} | ${avgCores(cores.oidc)} | ${cpuPerRequest('oidc')} | | | |`);
  console.log(`| oidc / api-key (per round: ${ratios.map((r) => r.toFixed(2)).join(', ')}) | | | | ${ratio.toFixed(3)} | >= 0.9 | ${ratio >= 0.9 ? 'yes' : 'no'} |`);
} finally {
  await stopAll();
  await new EnvironmentConfigStore(redis).remove(environment).catch(() => {});
  // The run's sessions (the Gateway's RedisOidcSessionStore prefix for this environment).
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `idm:oidc-rp:${environment}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}
