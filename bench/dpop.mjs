// DPoP benchmark (issue #14): a proxy with jwt-auth, called with a DPoP-bound JWT (a fresh proof
// per request: one more ES256 verification and one Redis SET NX of its jti) vs a plain JWT.
// Usage: node bench/dpop.mjs   (BENCH_CONNECTIONS=50 BENCH_DURATION=4 BENCH_ROUNDS=4 REDIS_URL=...)
// Proofs are signed before each measured run (the load generator shares the cores with the
// Gateway), so the figure is the Gateway's cost alone.
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from './lib/gateway-process.mjs';
import { median } from './lib/report.mjs';
import { killAllNow, startProcess, stopAll, waitForPortLine } from './lib/processes.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const autocannon = require('autocannon');
const { EnvironmentConfigStore } = require(join(root, 'libs/config-bus/dist/index.js'));
const { SecretBox } = require(join(root, 'libs/domain/dist/index.js'));
const { DEVELOPMENT_MASTER_KEY } = require(join(root, 'libs/platform/dist/index.js'));
const Redis = createRequire(join(root, 'libs/config-bus/package.json'))('ioredis');
const argon2 = createRequire(join(root, 'libs/policies/package.json'))('argon2');
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const duration = Number(process.env.BENCH_DURATION ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const log = (m) => process.stderr.write(`[bench] ${m}\n`);
process.on('exit', killAllNow);

const load = (opts) => new Promise((resolve, reject) => autocannon({ connections, duration, ...opts }, (err, r) => (err ? reject(err) : resolve(r))));
const rps = (r) => {
  if (r.non2xx || r.errors) log(`invalid run: ${r.non2xx} non-2xx (${JSON.stringify(r.statusCodeStats)}), ${r.errors} errors, ${r.timeouts} timeouts`);
  return r.non2xx || r.errors ? NaN : r.requests.average;
};

// The client's DPoP key (ES256, what openid-client uses by default) and its proofs.
const dpopKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = dpopKey.publicKey.export({ format: 'jwk' });
const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
const proof = (htm, htu, ath) => {
  const input = `${b64({ typ: 'dpop+jwt', alg: 'ES256', jwk })}.${b64({ jti: randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000), ...(ath && { ath }) })}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: dpopKey.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
};

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redis = new Redis(redisUrl);
const upstream = startProcess(process.execPath, [join(root, 'bench/upstream.mjs')], { logFile: '/tmp/idm-bench-dpop-upstream.log', stdin: 'pipe' });
const environment = `bench-dpop-${randomBytes(4).toString('hex')}`;
try {
  const upstreamPort = await waitForPortLine(upstream);
  const signing = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const projectId = randomUUID();
  await new EnvironmentConfigStore(redis).write({
    schemaVersion: 3,
    environment,
    epoch: 'bench',
    revision: 1,
    generatedAt: new Date().toISOString(),
    proxies: [
      {
        id: randomUUID(),
        projectId,
        name: 'jwt',
        basePath: '/jwt',
        upstreamUrl: `http://127.0.0.1:${upstreamPort}`,
        methods: ['GET'],
        policies: [{ type: 'jwt-auth', config: {} }],
      },
    ],
    credentials: [
      {
        id: randomUUID(),
        projectId,
        username: 'bench',
        passwordHash: await argon2.hash('bench-secret', { type: argon2.argon2id }),
        enabled: true,
        expiresAt: null,
        roles: [],
        apiKeys: [],
        tokenSettings: { grants: ['client_credentials'], jwtClaims: [] },
      },
    ],
    signingKeys: [
      {
        kid: 'bench-rs256',
        algorithm: 'RS256',
        publicJwk: signing.publicKey.export({ format: 'jwk' }),
        privateKey: new SecretBox([DEVELOPMENT_MASTER_KEY]).seal(signing.privateKey.export({ type: 'pkcs8', format: 'pem' })),
        activatesAt: new Date(0).toISOString(),
        publishedUntil: null,
      },
    ],
  });
  const { base } = await startGateway(root, { environment, redisUrl, logFile: '/tmp/idm-bench-dpop-gateway.log' });
  const issue = async (dpop) => {
    const headers = { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('bench:bench-secret').toString('base64')}` };
    if (dpop) headers.dpop = proof('POST', `${base}/credential/jwt`);
    const body = await fetch(`${base}/credential/jwt`, { method: 'POST', headers, body: 'grant_type=client_credentials' }).then((r) => r.json());
    if (!body.access_token || body.token_type !== (dpop ? 'DPoP' : 'Bearer')) throw new Error(`token: ${JSON.stringify(body)}`);
    return body.access_token;
  };
  const plainToken = await issue(false);
  const boundToken = await issue(true);
  const url = `${base}/jwt/items/1`;
  const ath = createHash('sha256').update(boundToken).digest('base64url');
  // Fresh proofs for one run, sized from the plain run's rate (they must stay within the 60 s iat window).
  const proofs = (n) => Array.from({ length: n }, () => proof('GET', url, ath));
  let expectedRps = 2000;
  /** A few refusals of the DPoP runs, for the log (each one makes its run invalid). */
  const refusals = new Set();
  const dpopRun = async (seconds) => {
    const pool = proofs(Math.ceil(expectedRps * seconds * 1.5) + 500);
    let i = 0;
    return load({
      url,
      duration: seconds,
      requests: [
        {
          method: 'GET',
          setupRequest: (req) => ({ ...req, headers: { authorization: `DPoP ${boundToken}`, dpop: pool[i++] ?? proof('GET', url, ath) } }),
          onResponse: (status, body) => {
            if (status !== 200 && refusals.size < 5) refusals.add(`${status} ${body}`);
          },
        },
      ],
    });
  };
  const plainRun = (seconds) => load({ url, duration: seconds, headers: { authorization: `Bearer ${plainToken}` } });
  const check = await dpopRun(1);
  if (check.non2xx || check.errors) throw new Error(`DPoP probe: ${check.non2xx} non-2xx, ${check.errors} errors: ${[...refusals].join(' | ')}`);
  const result = { plain: [], dpop: [] };
  for (let round = 0; round < rounds; round++) {
    log(`round ${round + 1}/${rounds}`);
    await plainRun(1);
    result.plain.push(rps(await plainRun(duration)));
    if (result.plain.at(-1) > 0) expectedRps = result.plain.at(-1);
    await dpopRun(1);
    result.dpop.push(rps(await dpopRun(duration)));
  }
  if (refusals.size > 0) log(`DPoP refusals: ${[...refusals].join(' | ')}`);
  const ratio = median(result.dpop.map((d, i) => d / result.plain[i]));
  console.log('| measurement | value |');
  console.log('|---|---|');
  console.log(`| proxy jwt-auth, plain JWT (Bearer), req/s (rounds) | ${result.plain.map(Math.round).join(', ')} |`);
  console.log(`| proxy jwt-auth, DPoP-bound JWT + fresh ES256 proof per request, req/s (rounds) | ${result.dpop.map(Math.round).join(', ')} |`);
  console.log(`| DPoP / plain (median of per-round ratios: ${result.dpop.map((d, i) => (d / result.plain[i]).toFixed(2)).join(', ')}) | ${ratio.toFixed(3)} |`);
} finally {
  await stopAll();
  await new EnvironmentConfigStore(redis).remove(environment).catch(() => {});
  for (const pattern of [`{idm:tokens:${environment}}*`, `{idm:dpop:${environment}}*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  }
  redis.disconnect();
}
