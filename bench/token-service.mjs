// Token service benchmark (one run, this machine). Usage: node bench/token-service.mjs
//   BENCH_CONNECTIONS=50 BENCH_DURATION=10 REDIS_URL=redis://127.0.0.1:6379 BENCH_LIVE_TOKENS=100000 BENCH_PROXY_ROUNDS=6
// 1. POST /credential/jwt (client_credentials, RS256) on one Gateway process vs oidc-provider
//    (client_credentials, RS256 JWT access tokens) vs `openssl speed -seconds 5 rsa2048` sign/s.
// 2. A proxy with jwt-auth (same valid token repeated) vs the same proxy with api-key.
// 3. Redis memory per live opaque token (+ refresh token) and Gateway RSS with N live tokens.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from './lib/gateway-process.mjs';
import { httpGet } from './lib/http.mjs';
import { median } from './lib/report.mjs';
import { killAllNow, sampleProcess, startProcess, stopAll, stopProcess, waitForPortLine } from './lib/processes.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const autocannon = require('autocannon');
const { EnvironmentConfigStore } = require(join(root, 'libs/config-bus/dist/index.js'));
const { SecretBox, generateApiKey } = require(join(root, 'libs/domain/dist/index.js'));
const { DEVELOPMENT_MASTER_KEY } = require(join(root, 'libs/platform/dist/index.js'));
const Redis = createRequire(join(root, 'libs/config-bus/package.json'))('ioredis');
const argon2 = createRequire(join(root, 'libs/policies/package.json'))('argon2');
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const duration = Number(process.env.BENCH_DURATION ?? 10);
const liveTokens = Number(process.env.BENCH_LIVE_TOKENS ?? 100_000);
// jwt-auth vs api-key: interleaved rounds, judged on the median of the per-round ratios (one
// round's RPS moves by a third on these shared cores).
const proxyRounds = Number(process.env.BENCH_PROXY_ROUNDS ?? 6);
const log = (m) => process.stderr.write(`[bench] ${m}\n`);
process.on('exit', killAllNow);

const load = (opts) => new Promise((resolve, reject) => autocannon({ connections, ...(opts.amount ? {} : { duration }), ...opts }, (err, r) => (err ? reject(err) : resolve(r))));
const rps = (r) => (r.non2xx || r.errors ? NaN : r.requests.average);

function opensslSignsPerSecond() {
  const out = execFileSync('openssl', ['speed', '-seconds', '5', 'rsa2048'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const line = out.split('\n').find((l) => /^rsa\s+2048 bits/.test(l.trim()));
  return Number(line.trim().split(/\s+/)[5]);
}

async function oidcProviderRps() {
  const child = startProcess(process.execPath, [join(root, 'bench/oidc-provider-server.mjs')], { cwd: root, logFile: '/tmp/idm-bench-oidc-provider.log', stdin: 'pipe' });
  const port = await waitForPortLine(child);
  const url = `http://127.0.0.1:${port}/token`;
  const req = {
    url,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('bench:bench-secret').toString('base64')}` },
    body: 'grant_type=client_credentials&scope=read',
  };
  const probe = await fetch(url, req).then((r) => r.json());
  if (!probe.access_token || probe.access_token.split('.').length !== 3) throw new Error(`oidc-provider: ${JSON.stringify(probe)}`);
  await load({ ...req, duration: 2 });
  const sampler = sampleProcess(child.pid);
  const result = await load(req);
  const cores = sampler.stop().cpuSeconds / duration;
  await stopProcess(child);
  return { rps: rps(result), cores };
}

function snapshot(environment, upstreamPort, key, passwordHash, apiKey) {
  const projectId = randomUUID();
  const box = new SecretBox([DEVELOPMENT_MASTER_KEY]);
  const credentialId = randomUUID();
  const publicJwk = key.publicKey.export({ format: 'jwk' });
  return {
    credentialId,
    snapshot: {
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
        {
          id: randomUUID(),
          projectId,
          name: 'key',
          basePath: '/key',
          upstreamUrl: `http://127.0.0.1:${upstreamPort}`,
          methods: ['GET'],
          policies: [{ type: 'api-key', config: {} }],
        },
      ],
      credentials: [
        {
          id: credentialId,
          projectId,
          username: 'bench',
          passwordHash,
          enabled: true,
          expiresAt: null,
          roles: [],
          apiKeys: [{ id: randomUUID(), prefix: apiKey.prefix, hash: apiKey.hash, expiresAt: null }],
          tokenSettings: { grants: ['client_credentials', 'password', 'refresh_token'], refreshAllowed: true, jwtClaims: [] },
        },
      ],
      signingKeys: [
        {
          kid: 'bench-rs256',
          algorithm: 'RS256',
          publicJwk,
          privateKey: box.seal(key.privateKey.export({ type: 'pkcs8', format: 'pem' })),
          activatesAt: new Date(0).toISOString(),
          publishedUntil: null,
        },
      ],
    },
  };
}

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redis = new Redis(redisUrl);
const upstream = startProcess(process.execPath, [join(root, 'bench/upstream.mjs')], { logFile: '/tmp/idm-bench-token-upstream.log', stdin: 'pipe' });
const environment = `bench-tokens-${randomBytes(4).toString('hex')}`;
try {
  const upstreamPort = await waitForPortLine(upstream);
  const apiKey = generateApiKey();
  const { snapshot: snap } = snapshot(
    environment,
    upstreamPort,
    generateKeyPairSync('rsa', { modulusLength: 2048 }),
    await argon2.hash('bench-secret', { type: argon2.argon2id }),
    apiKey,
  );
  await new EnvironmentConfigStore(redis).write(snap);
  // e.g. BENCH_GATEWAY_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the Gateway under this load
  const { child: gateway, base } = await startGateway(root, { environment, redisUrl, logFile: '/tmp/idm-bench-token-gateway.log' });
  const tokenReq = (path, body) => ({
    url: base + path,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('bench:bench-secret').toString('base64')}` },
    body,
  });

  log('openssl speed rsa2048 (5 s)');
  const openssl = opensslSignsPerSecond();
  log('gateway /credential/jwt');
  const jwtReq = tokenReq('/credential/jwt', 'grant_type=client_credentials');
  const probe = await fetch(jwtReq.url, jwtReq).then((r) => r.json());
  if (!probe.access_token) throw new Error(`gateway: ${JSON.stringify(probe)}`);
  await load({ ...jwtReq, duration: 2 });
  const sampler = sampleProcess(gateway.pid);
  const ours = rps(await load(jwtReq));
  const issueCores = sampler.stop().cpuSeconds / duration;
  log('oidc-provider /token');
  const { rps: theirs, cores: theirCores } = await oidcProviderRps();

  log('proxy: jwt-auth vs api-key');
  const jwtProxy = { url: `${base}/jwt/items/1`, headers: { authorization: `Bearer ${probe.access_token}` } };
  const keyProxy = { url: `${base}/key/items/1`, headers: { 'x-api-key': apiKey.key } };
  if ((await httpGet(jwtProxy.url, jwtProxy.headers)).status !== 200 || (await httpGet(keyProxy.url, keyProxy.headers)).status !== 200) throw new Error('proxy probe failed');
  const proxy = { jwt: [], key: [] };
  for (let round = 0; round < proxyRounds; round++) {
    await load({ ...keyProxy, duration: 2 });
    proxy.key.push(rps(await load(keyProxy)));
    await load({ ...jwtProxy, duration: 2 });
    proxy.jwt.push(rps(await load(jwtProxy)));
  }

  log(`memory: ${liveTokens} live opaque tokens (password grant: access + refresh)`);
  const used = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))[1]);
  const before = await used();
  const pwReq = tokenReq('/credential/token', 'grant_type=password&username=bench&password=bench-secret');
  const issued = await load({ ...pwReq, amount: liveTokens });
  const after = await used();
  const rssMb = Number(execFileSync('ps', ['-o', 'rss=', '-p', String(gateway.pid)], { encoding: 'utf8' }).trim()) / 1024;

  const jwtOverKey = median(proxy.jwt.map((j, i) => j / proxy.key[i]));
  console.log('| measurement | value | target | met |');
  console.log('|---|---|---|---|');
  console.log(`| Gateway POST /credential/jwt (client_credentials, RS256), req/s | ${Math.round(ours)} (${issueCores.toFixed(2)} cores) | | |`);
  console.log(
    `| oidc-provider ${require('oidc-provider/package.json').version} client_credentials RS256 JWT (own process), req/s | ${Math.round(theirs)} (${theirCores.toFixed(2)} cores) | | |`,
  );
  console.log(`| openssl speed rsa2048 sign/s | ${openssl} | | |`);
  console.log(`| Gateway / oidc-provider | ${(ours / theirs).toFixed(2)}x | >= 1.6x | ${ours / theirs >= 1.6 ? 'yes' : 'no'} |`);
  console.log(`| Gateway / openssl | ${(ours / openssl).toFixed(2)}x | >= 0.85x | ${ours / openssl >= 0.85 ? 'yes' : 'no'} |`);
  console.log(`| proxy jwt-auth req/s (rounds) | ${proxy.jwt.map(Math.round).join(', ')} | | |`);
  console.log(`| proxy api-key req/s (rounds) | ${proxy.key.map(Math.round).join(', ')} | | |`);
  console.log(
    `| jwt-auth / api-key (median of per-round ratios: ${proxy.jwt.map((j, i) => (j / proxy.key[i]).toFixed(2)).join(', ')}) | ${jwtOverKey.toFixed(3)} | >= 0.95 | ${jwtOverKey >= 0.95 ? 'yes' : 'no'} |`,
  );
  console.log(
    `| Redis bytes per live opaque token (+ refresh token), ${issued.requests.total} issued (${issued.non2xx} non-2xx) | ${Math.round((after - before) / issued.requests.total)} | | |`,
  );
  console.log(`| Gateway RSS after ${issued.requests.total} live tokens issued, MB | ${rssMb.toFixed(0)} | | |`);
} finally {
  await stopAll();
  await new EnvironmentConfigStore(redis).remove(environment).catch(() => {});
  // The run's tokens (hash-tagged per environment). Its persistence jobs share the installation's
  // queue with other processes, so they are left (bench/README.md says how to remove them).
  for (const pattern of [`{idm:tokens:${environment}}*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  }
  redis.disconnect();
}
