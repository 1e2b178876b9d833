// Authorization code flow benchmark (issue #15): complete flows with an existing SSO session on our
// Gateway's OpenID Provider vs oidc-provider (npm, unmodified, bench/oidc-provider-server.mjs
// code-flow), each in a process of its own, the load generator in a third (lib/code-flow-worker.mjs).
// Same on both sides: one confidential client (client_secret_basic), PKCE S256, scope "openid read",
// RS256 ID token and RS256 JWT access token, prompt=none with the browser's session cookie.
// Each browser (BENCH_SESSIONS of them, one loop each) logs in once through the OP's login page
// before the timed rounds. Rounds alternate ours/theirs; judged on the median of per-round ratios.
// Usage: node bench/oidc-code-flow.mjs
//   BENCH_SESSIONS=16 BENCH_DURATION=8 BENCH_WARMUP=2 BENCH_ROUNDS=5 REDIS_URL=redis://127.0.0.1:6379
//   BENCH_GATEWAY_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the Gateway under this load
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, URLSearchParams } from 'node:url';
import { CookieJar, walkLogin } from './lib/browser-login.mjs';
import { runCodeFlows } from './lib/code-flow-load.mjs';
import { startGateway } from './lib/gateway-process.mjs';
import { median } from './lib/report.mjs';
import { killAllNow, sampleProcess, startProcess, stopAll, waitForPortLine } from './lib/processes.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { EnvironmentConfigStore, END_USER_LAST_LOGIN_KEY } = require(join(root, 'libs/config-bus/dist/index.js'));
const { SecretBox } = require(join(root, 'libs/domain/dist/index.js'));
const { DEVELOPMENT_MASTER_KEY } = require(join(root, 'libs/platform/dist/index.js'));
const Redis = createRequire(join(root, 'libs/config-bus/package.json'))('ioredis');
const argon2 = createRequire(join(root, 'libs/policies/package.json'))('argon2');
const settings = {
  sessions: Number(process.env.BENCH_SESSIONS ?? 16),
  durationSec: Number(process.env.BENCH_DURATION ?? 8),
  warmupSec: Number(process.env.BENCH_WARMUP ?? 2),
  rounds: Number(process.env.BENCH_ROUNDS ?? 5),
};
const log = (m) => process.stderr.write(`[bench] ${m}\n`);
process.on('exit', killAllNow);

// Never followed: the flow stops at the redirect, as a client's callback would take the code.
const REDIRECT_URI = 'http://127.0.0.1:9/cb';
// oidc-provider's client id is "bench-app"; our OP's client id is the client credential's id (its
// ID tokens' `aud`), the same secret on both.
const CLIENT_SECRET = 'bench-app-secret-0123456789';
const USER = { username: 'alice', password: 'alice-password-0123' };
const SCOPE = 'openid read';

async function snapshot(environment) {
  const box = new SecretBox([DEVELOPMENT_MASTER_KEY]);
  const projectId = randomUUID();
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const credential = (username, passwordHash, fields) => ({
    id: randomUUID(),
    projectId,
    username,
    passwordHash,
    enabled: true,
    expiresAt: null,
    roles: [],
    apiKeys: [],
    ...fields,
  });
  return {
    schemaVersion: 3,
    environment,
    epoch: 'bench',
    revision: 1,
    generatedAt: new Date().toISOString(),
    proxies: [],
    credentials: [
      credential('bench-app', await argon2.hash(CLIENT_SECRET, { type: argon2.argon2id }), {
        tokenSettings: {
          grants: ['authorization_code'],
          scopes: ['read'],
          oidc: { clientType: 'confidential', redirectUris: [REDIRECT_URI], tokenEndpointAuthMethod: 'client_secret_basic', requirePkce: true, consentRequired: false },
        },
      }),
      credential(USER.username, await argon2.hash(USER.password, { type: argon2.argon2id }), {
        endUser: {
          email: 'alice@example.test',
          emailVerified: true,
          name: 'Alice',
          givenName: null,
          familyName: null,
          locale: null,
          pictureUrl: null,
          attributes: {},
          locked: false,
        },
      }),
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
  };
}

/** The OP's endpoints and keys, and `sessions` browsers logged in through its login page (their cookie headers). */
async function prepare(issuer, clientId) {
  const discovery = await fetch(`${issuer}/.well-known/openid-configuration`).then((r) => r.json());
  if (discovery.issuer !== issuer) throw new Error(`discovery of ${issuer} names ${discovery.issuer}`);
  const jwks = await fetch(discovery.jwks_uri).then((r) => r.json());
  const sessions = [];
  for (let i = 0; i < settings.sessions; i++) {
    const jar = new CookieJar();
    const start = `${discovery.authorization_endpoint}?${new URLSearchParams({
      client_id: clientId,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: SCOPE,
      state: 'login',
      // The login itself is not measured; its code is left unused (it expires).
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    })}`;
    const back = new URL(await walkLogin(jar, start, { ...USER, until: (url) => url.startsWith(REDIRECT_URI) }));
    if (!back.searchParams.get('code')) throw new Error(`login at ${issuer} ended without a code: ${back}`);
    sessions.push(jar.header(discovery.authorization_endpoint));
  }
  return {
    authorizeUrl: discovery.authorization_endpoint,
    tokenUrl: discovery.token_endpoint,
    issuer,
    clientId,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
    scope: SCOPE,
    jwks,
    sessions,
  };
}

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const environment = `bench-oidc-flow-${randomBytes(4).toString('hex')}`;
const loadBefore = loadavg();
let userIds = [];
try {
  const theirs = startProcess(process.execPath, [join(root, 'bench/oidc-provider-server.mjs'), 'code-flow', REDIRECT_URI], {
    cwd: root,
    logFile: '/tmp/idm-bench-oidc-flow-provider.log',
    stdin: 'pipe',
  });
  const theirIssuer = `http://127.0.0.1:${await waitForPortLine(theirs)}`;
  const snap = await snapshot(environment);
  userIds = snap.credentials.map((c) => c.id);
  await new EnvironmentConfigStore(redis).write(snap);
  const ours = await startGateway(root, { environment, logFile: '/tmp/idm-bench-oidc-flow-gateway.log' });
  log(`logging ${settings.sessions} browsers in at each OP`);
  const targets = {
    gateway: { target: await prepare(`${ours.base}/credential`, snap.credentials[0].id), pid: ours.pid },
    'oidc-provider': { target: await prepare(theirIssuer, 'bench-app'), pid: theirs.pid },
  };
  // One untimed pass of each first: the first load on a fresh process (JIT) is not either side's figure.
  for (const { target } of Object.values(targets)) await runCodeFlows(root, target, settings.warmupSec);
  const results = { gateway: [], 'oidc-provider': [] };
  const cores = { gateway: [], 'oidc-provider': [] };
  for (let round = 0; round < settings.rounds; round++) {
    // Each pair back to back, in alternating order, so a drift of the machine favours neither side.
    for (const name of round % 2 === 0 ? ['gateway', 'oidc-provider'] : ['oidc-provider', 'gateway']) {
      log(`round ${round + 1}: ${name}`);
      const { target, pid } = targets[name];
      const warm = await runCodeFlows(root, target, settings.warmupSec);
      if (!warm.valid) throw new Error(`${name}: flows failed during warm-up: ${warm.invalidReason}`);
      const sampler = sampleProcess(pid);
      const r = await runCodeFlows(root, target, settings.durationSec);
      cores[name].push(sampler.stop().cpuSeconds / settings.durationSec);
      if (!r.valid) log(`${name}: round invalid: ${r.invalidReason}`);
      results[name].push(r.valid ? r.flowsPerSec : NaN);
    }
  }
  const ratios = results.gateway.map((g, i) => g / results['oidc-provider'][i]);
  const ratio = median(ratios.filter(Number.isFinite));
  const fmt = (xs) => xs.map((x) => (Number.isFinite(x) ? Math.round(x) : 'invalid')).join(', ');
  const avgCores = (xs) => (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(2);
  // OP CPU per flow: less sensitive to the neighbours than flows/s.
  const cpuPerFlow = (name) => median(cores[name].map((c, i) => (c / results[name][i]) * 1e3).filter(Number.isFinite)).toFixed(2);
  console.log(
    `machine: ${cpus().length} cores, load average before ${loadBefore.map((l) => l.toFixed(2)).join(' / ')}, after ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' / ')}`,
  );
  console.log('| measurement | flows/s per round | OP cores (mean) | OP CPU ms per flow (median) | ratio (median of rounds) | target | met |');
  console.log('|---|---|---|---|---|---|---|');
  console.log(`| Gateway OP: authorize (SSO session) -> code -> token | ${fmt(results.gateway)} | ${avgCores(cores.gateway)} | ${cpuPerFlow('gateway')} | | | |`);
  console.log(
    `| oidc-provider ${require('oidc-provider/package.json').version}, same flow | ${fmt(results['oidc-provider'])} | ${avgCores(cores['oidc-provider'])} | ${cpuPerFlow('oidc-provider')} | | | |`,
  );
  console.log(`| Gateway / oidc-provider (per round: ${ratios.map((r) => r.toFixed(2)).join(', ')}) | | | | ${ratio.toFixed(2)}x | >= 1.5x | ${ratio >= 1.5 ? 'yes' : 'no'} |`);
} finally {
  await stopAll();
  await new EnvironmentConfigStore(redis).remove(environment).catch(() => {});
  // The run's OP state and token records (hash-tagged per environment) and its users' last logins.
  for (const pattern of [`{idm:oidc:${environment}}*`, `{idm:tokens:${environment}}*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  }
  if (userIds.length) await redis.hdel(END_USER_LAST_LOGIN_KEY, ...userIds);
  redis.disconnect();
}
