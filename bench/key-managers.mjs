// Key managers benchmark (issue #14): one Gateway process, one oidc-provider process (the spec's
// issuer, apps/gateway/test/support/oidc-issuer.mjs), four proxies on the same upstream:
//   1. third-party JWT through a key manager (JWKS cached after the first request) vs our own
//      jwt-auth token (target >= 0.95x RPS);
//   2. third-party opaque token through a key manager with a warm introspection cache vs api-key
//      (target >= 0.9x).
// Interleaved rounds, judged on the median of the per-round ratios. Usage: node bench/key-managers.mjs
//   BENCH_CONNECTIONS=50 BENCH_DURATION=5 BENCH_ROUNDS=4 REDIS_URL=redis://127.0.0.1:6379
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from './lib/gateway-process.mjs';
import { httpGet } from './lib/http.mjs';
import { runAutocannon } from './lib/load.mjs';
import { median } from './lib/report.mjs';
import { killAllNow, startProcess, stopAll, waitForPortLine } from './lib/processes.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { EnvironmentConfigStore } = require(join(root, 'libs/config-bus/dist/index.js'));
const { SecretBox, generateApiKey } = require(join(root, 'libs/domain/dist/index.js'));
const { DEVELOPMENT_MASTER_KEY } = require(join(root, 'libs/platform/dist/index.js'));
const Redis = createRequire(join(root, 'libs/config-bus/package.json'))('ioredis');
const argon2 = createRequire(join(root, 'libs/policies/package.json'))('argon2');
const settings = {
  connections: Number(process.env.BENCH_CONNECTIONS ?? 50),
  durationSec: Number(process.env.BENCH_DURATION ?? 5),
  warmupSec: Number(process.env.BENCH_WARMUP ?? 2),
  rounds: Number(process.env.BENCH_ROUNDS ?? 4),
};
const log = (m) => process.stderr.write(`[bench] ${m}\n`);
process.on('exit', killAllNow);
const box = new SecretBox([DEVELOPMENT_MASTER_KEY]);

function snapshot(environment, upstreamPort, issuer, apiKey, passwordHash) {
  const projectId = randomUUID();
  const keyManagerId = randomUUID();
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const proxy = (name, policies) => ({ id: randomUUID(), projectId, name, basePath: `/${name}`, upstreamUrl: `http://127.0.0.1:${upstreamPort}`, methods: ['GET'], policies });
  return {
    keyManagerId,
    snapshot: {
      schemaVersion: 3,
      environment,
      epoch: 'bench',
      revision: 1,
      generatedAt: new Date().toISOString(),
      proxies: [
        proxy('own', [{ type: 'jwt-auth', config: {} }]),
        proxy('km', [{ type: 'jwt-auth', config: { keyManagers: [keyManagerId] } }]),
        proxy('key', [{ type: 'api-key', config: {} }]),
        proxy('km-opaque', [{ type: 'oauth2-auth', config: { keyManagers: [keyManagerId] } }]),
      ],
      credentials: [
        {
          id: randomUUID(),
          projectId,
          username: 'bench',
          passwordHash,
          enabled: true,
          expiresAt: null,
          apiKeys: [{ id: randomUUID(), prefix: apiKey.prefix, hash: apiKey.hash, expiresAt: null }],
          tokenSettings: { grants: ['client_credentials'], jwtClaims: [] },
        },
      ],
      signingKeys: [
        {
          kid: 'bench-rs256',
          algorithm: 'RS256',
          publicJwk: key.publicKey.export({ format: 'jwk' }),
          privateKey: box.seal(key.privateKey.export({ type: 'pkcs8', format: 'pem' })),
          activatesAt: new Date(0).toISOString(),
          publishedUntil: null,
        },
      ],
      keyManagers: [
        {
          id: keyManagerId,
          name: 'bench-issuer',
          type: 'external',
          projectId: null,
          issuer,
          discoveryUrl: `${issuer}/.well-known/openid-configuration`,
          jwksUri: null,
          introspectionEndpoint: null,
          clientId: 'gateway',
          clientSecret: box.seal('gateway-secret-0123456789'),
          sharedSecret: null,
          algorithms: ['RS256'],
          audiences: ['urn:api:jwt', 'urn:api:opaque'],
          clockSkewSeconds: 30,
          requiredClaims: [],
          claimMappings: { userId: 'sub', username: 'client_id', roles: 'roles', scopes: 'scope', headers: {} },
          tokenTypes: 'both',
          tls: { caPem: null, clientCertificatePem: null, clientKey: null },
          enabled: true,
        },
      ],
    },
  };
}

async function issuerToken(issuer, resource) {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('gateway:gateway-secret-0123456789').toString('base64')}` },
    body: `grant_type=client_credentials&resource=${encodeURIComponent(resource)}&scope=read`,
  });
  return (await res.json()).access_token;
}

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const upstream = startProcess(process.execPath, [join(root, 'bench/upstream.mjs')], { logFile: '/tmp/idm-bench-km-upstream.log', stdin: 'pipe' });
const oidc = startProcess(process.execPath, [join(root, 'apps/gateway/test/support/oidc-issuer.mjs'), 'RS256'], {
  cwd: root,
  logFile: '/tmp/idm-bench-km-oidc.log',
  stdin: 'pipe',
});
const environment = `bench-km-${randomBytes(4).toString('hex')}`;
let keyManagerId;
try {
  const upstreamPort = await waitForPortLine(upstream);
  const issuer = `http://127.0.0.1:${await waitForPortLine(oidc)}`;
  const apiKey = generateApiKey();
  const built = snapshot(environment, upstreamPort, issuer, apiKey, await argon2.hash('bench-secret', { type: argon2.argon2id }));
  keyManagerId = built.keyManagerId;
  await new EnvironmentConfigStore(redis).write(built.snapshot);
  const { base } = await startGateway(root, { environment, logFile: '/tmp/idm-bench-km-gateway.log' });
  const own = await fetch(`${base}/credential/jwt`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('bench:bench-secret').toString('base64')}` },
    body: 'grant_type=client_credentials',
  }).then((r) => r.json());
  const targets = {
    own: { url: `${base}/own/items/1`, headers: { authorization: `Bearer ${own.access_token}` } },
    km: { url: `${base}/km/items/1`, headers: { authorization: `Bearer ${await issuerToken(issuer, 'urn:api:jwt')}` } },
    key: { url: `${base}/key/items/1`, headers: { 'x-api-key': apiKey.key } },
    'km-opaque': { url: `${base}/km-opaque/items/1`, headers: { authorization: `Bearer ${await issuerToken(issuer, 'urn:api:opaque')}` } },
  };
  for (const [name, t] of Object.entries(targets)) {
    const probe = await httpGet(t.url, t.headers);
    if (probe.status !== 200) throw new Error(`${name}: ${probe.status} ${probe.body}`);
  }
  const results = Object.fromEntries(Object.keys(targets).map((n) => [n, []]));
  for (let round = 0; round < settings.rounds; round++) {
    // Each pair runs back to back, in alternating order, so a drift of the machine favours neither side.
    const order = round % 2 === 0 ? ['own', 'km', 'key', 'km-opaque'] : ['km', 'own', 'km-opaque', 'key'];
    for (const name of order) {
      log(`round ${round + 1}: ${name}`);
      const load = { ...targets[name], connections: settings.connections };
      await runAutocannon(root, { ...load, durationSec: settings.warmupSec });
      const r = await runAutocannon(root, { ...load, durationSec: settings.durationSec });
      results[name].push(r.valid ? r.rps : NaN);
    }
  }
  const ratio = (a, b) => median(results[a].map((x, i) => x / results[b][i]).filter(Number.isFinite));
  const jwt = ratio('km', 'own');
  const opaque = ratio('km-opaque', 'key');
  console.log('| measurement | req/s per round | ratio (median of rounds) | target | met |');
  console.log('|---|---|---|---|---|');
  console.log(`| own jwt-auth token | ${results.own.map(Math.round).join(', ')} | | | |`);
  console.log(`| third-party JWT via key manager (JWKS cached) | ${results.km.map(Math.round).join(', ')} | ${jwt.toFixed(3)} | >= 0.95 | ${jwt >= 0.95 ? 'yes' : 'no'} |`);
  console.log(`| api-key | ${results.key.map(Math.round).join(', ')} | | | |`);
  console.log(
    `| third-party opaque via key manager (warm introspection cache) | ${results['km-opaque'].map(Math.round).join(', ')} | ${opaque.toFixed(3)} | >= 0.9 | ${opaque >= 0.9 ? 'yes' : 'no'} |`,
  );
} finally {
  await stopAll();
  await new EnvironmentConfigStore(redis).remove(environment).catch(() => {});
  if (keyManagerId) {
    const keys = await redis.keys(`idm:introspection:{${keyManagerId}}:*`);
    if (keys.length) await redis.del(...keys);
  }
  redis.disconnect();
}
