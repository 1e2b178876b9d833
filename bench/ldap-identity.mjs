// LDAP identity source benchmark (issue #16). Usage: node bench/ldap-identity.mjs
//   BENCH_CONNECTIONS=20 BENCH_DURATION=4 BENCH_ROUNDS=4 BENCH_COLD_LOGINS=300 REDIS_URL=redis://127.0.0.1:6379
// 1. The OAuth2 password grant (POST /credential/jwt, RS256) on one Gateway process: a directory
//    user of an LDAP source with a warm verified cache vs an end user of our own credential store,
//    interleaved rounds, median of the per-round ratios (target >= 0.9x).
// 2. One login checked against slapd directly by the source's checker (libs/identity-sources):
//    cold (a new connection, service bind, user search, a second connection, user bind, entry and
//    group reads) and with the service-account pool warm; latency p50/p99, sequential.
import { randomBytes } from 'node:crypto';
import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, URLSearchParams } from 'node:url';
import { startGateway } from './lib/gateway-process.mjs';
import { runAutocannon } from './lib/load.mjs';
import { createDatabase, postgres, startManager } from './lib/manager-process.mjs';
import { percentile } from './lib/percentile.mjs';
import { killAllNow, stopAll } from './lib/processes.mjs';
import { connectRedis, removeKeysNaming } from './lib/redis.mjs';
import { median } from './lib/report.mjs';
import { GROUPS, PEOPLE, startSlapd } from './lib/slapd.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { LdapSource } = require(join(root, 'libs/identity-sources/dist/index.js'));
const { ldapSourceConfigSchema } = require(join(root, 'libs/domain/dist/index.js'));
const connections = Number(process.env.BENCH_CONNECTIONS ?? 20);
const duration = Number(process.env.BENCH_DURATION ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const coldLogins = Number(process.env.BENCH_COLD_LOGINS ?? 300);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const log = (m) => process.stderr.write(`[bench] ${m}\n`);
process.on('exit', killAllNow);
const load1 = () => loadavg()[0].toFixed(1);

/** Sequential checks of one login by the source's own checker: the latency of each, in ms. */
async function checkerLatencies(slapd, pool) {
  const config = ldapSourceConfigSchema.parse({
    url: slapd.url,
    bind: { mode: 'search', bindDn: `uid=svc,${PEOPLE}`, baseDn: PEOPLE },
    groups: { mode: 'search', baseDn: GROUPS },
    pool,
  });
  const source = new LdapSource(config, 'svc-pass', 5000);
  const times = [];
  try {
    for (let i = 0; i < coldLogins + 20; i++) {
      const t0 = performance.now();
      const answer = await source.check('alice', 'alice-pass');
      if (answer.outcome !== 'verified') throw new Error(`alice was not verified: ${JSON.stringify(answer)}`);
      if (i >= 20) times.push(performance.now() - t0); // 20 warm-up logins (JIT; the pool's first connection)
    }
  } finally {
    await source.close();
  }
  const r = (x) => Math.round(x * 100) / 100;
  return { p50: r(percentile(times, 0.5)), p99: r(percentile(times, 0.99)), mean: r(times.reduce((a, b) => a + b, 0) / times.length), n: times.length };
}

const environment = `bench-ldap-${randomBytes(3).toString('hex')}`;
const startLoad = load1();
const slapd = await startSlapd({ users: { alice: 'alice-pass' } });
const pg = postgres(root);
const db = await createDatabase(pg);
try {
  log(`load average ${startLoad}; cold and pooled checks against slapd (${coldLogins} each)`);
  const cold = await checkerLatencies(slapd, { size: 0 });
  const pooled = await checkerLatencies(slapd, { size: 4 });

  log('Manager and Gateway');
  const { api } = await startManager(root, { databaseUrl: db.url, redisUrl, logFile: '/tmp/idm-bench-ldap-manager.log', env: { SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '0' } });
  const env = await api.call('POST', '/environments', { name: environment });
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  await api.call('POST', `/environments/${env.id}/signing-keys`, { algorithm: 'RS256', privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString() });
  const project = await api.call('POST', '/projects', { name: environment });
  // A deployed proxy is what publishes the project's credentials to the environment.
  await api.call('POST', `/projects/${project.id}/proxies`, {
    name: 'orders',
    basePath: '/orders',
    upstreamUrl: 'http://127.0.0.1:9/',
    environments: [environment],
    policies: [{ type: 'jwt-auth', config: {} }],
  });
  await api.call('POST', '/identity-sources', {
    name: 'corp',
    type: 'ldap',
    projectId: project.id,
    config: { url: slapd.url, bind: { mode: 'search', bindDn: `uid=svc,${PEOPLE}`, baseDn: PEOPLE }, groups: { mode: 'search', baseDn: GROUPS } },
    secret: 'svc-pass',
    roleMappings: { staff: ['reader'], admins: ['admin'] },
    cacheTtlSeconds: 3600,
  });
  await api.call('POST', `/projects/${project.id}/users`, { username: 'local', password: 'local-pass-1234', email: 'local@example.org' });
  const client = async (name, identitySources) => {
    const { id } = await api.call('POST', `/projects/${project.id}/credentials`, { username: name, password: 'client-secret', issueApiKey: false });
    await api.call('PUT', `/projects/${project.id}/credentials/${id}/token-settings`, { grants: ['password'], ...(identitySources ? { identitySources } : {}) });
  };
  await client('ldap-app', ['corp']);
  await client('local-app', null);
  const { base } = await startGateway(root, { environment, redisUrl, logFile: '/tmp/idm-bench-ldap-gateway.log' });
  const grant = (clientId, username, password) => ({
    url: `${base}/credential/jwt`,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:client-secret`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
  });
  const ldapGrant = grant('ldap-app', 'alice', 'alice-pass');
  const localGrant = grant('local-app', 'local', 'local-pass-1234');
  // Wait for the configuration to reach the Gateway; the first LDAP grant provisions alice and warms the cache.
  const deadline = Date.now() + 120_000;
  for (const req of [localGrant, ldapGrant]) {
    for (;;) {
      const res = await fetch(req.url, req);
      if (res.status === 200) break;
      if (Date.now() > deadline) throw new Error(`${req.headers.authorization}: ${res.status} ${await res.text()}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const runs = { ldap: [], local: [] };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 ? ['ldap', 'local'] : ['local', 'ldap'];
    for (const which of order) {
      const req = which === 'ldap' ? ldapGrant : localGrant;
      await runAutocannon(root, { ...req, connections, durationSec: 1 });
      const r = await runAutocannon(root, { ...req, connections, durationSec: duration });
      if (!r.valid) throw new Error(`${which} round ${round + 1}: ${r.invalidReason}`);
      runs[which].push(r);
      log(`round ${round + 1} ${which}: ${r.rps} req/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms (load ${load1()})`);
    }
  }
  const ratios = runs.ldap.map((r, i) => r.rps / runs.local[i].rps);
  const ratio = median(ratios);
  console.log(`LDAP identity source bench, ${new Date().toISOString()}, load average ${startLoad} at the start, ${load1()} at the end`);
  console.log('| measurement | value | target | met |');
  console.log('|---|---|---|---|');
  console.log(`| password grant, our credential store, req/s (rounds) | ${runs.local.map((r) => r.rps).join(', ')} | | |`);
  console.log(`| password grant, LDAP source with a warm cache, req/s (rounds) | ${runs.ldap.map((r) => r.rps).join(', ')} | | |`);
  console.log(
    `| LDAP warm / own store (median of per-round ratios: ${ratios.map((x) => x.toFixed(2)).join(', ')}) | ${ratio.toFixed(3)} | >= 0.9 | ${ratio >= 0.9 ? 'yes' : 'no'} |`,
  );
  console.log(
    `| cold LDAP login (2 connections, service bind, search, user bind, reads), ms p50 / p99 / mean (n=${cold.n}) | ${cold.p50} / ${cold.p99} / ${cold.mean} | report | |`,
  );
  console.log(`| LDAP login with the service pool warm (1 connection), ms p50 / p99 / mean (n=${pooled.n}) | ${pooled.p50} / ${pooled.p99} / ${pooled.mean} | report | |`);
} finally {
  await stopAll();
  await slapd.stop().catch(() => {});
  await db.drop().catch(() => {});
  // The run's environment keys (configuration, tokens) in the shared Redis.
  const redis = await connectRedis(root, redisUrl).catch(() => null);
  if (redis) {
    await removeKeysNaming(redis, [environment]).catch(() => {});
    redis.disconnect();
  }
}
