// `npm start`: install, build, find or start Redis, run echo upstream + Manager + Gateway on
// embedded defaults (PGlite under ./.data or IDM_DATA_DIR; the Manager indexes the auth records), seed the demo and print how to call it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { seedDemo } from './demo-seed.mjs';
import { build, ensureInstalled, root } from './lib/toolchain.mjs';
import { logFormat, prettyStream } from './lib/log-format.mjs';
import { aptInstall, hasBinary, redisAnswers, startRedisServer, waitFor } from './lib/services.mjs';

const env = process.env;
const managerPort = Number(env.MANAGER_PORT ?? 8080);
const gatewayPort = Number(env.GATEWAY_PORT ?? 8081);
const echoPort = Number(env.ECHO_PORT ?? 8082);
const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const dataDir = env.IDM_DATA_DIR ?? join(root, '.data');
const demoFile = join(dataDir, 'demo.json');
const children = [];
/** Readable lines on a terminal, the apps' JSON otherwise (LOG_FORMAT=json|pretty overrides). */
const prettyLogs = logFormat() === 'pretty';

/** Stops the apps and waits for them (10 s, then SIGKILL): none outlives `npm start`, nor loses Redis while it shuts down. */
let stopping = false;
function stopAll(code = 0) {
  if (stopping) return;
  stopping = true;
  const running = children.filter((child) => child.exitCode === null && child.signalCode === null);
  const exited = running.map((child) => new Promise((resolve) => child.once('exit', resolve)));
  for (const child of running.reverse()) child.kill('SIGTERM');
  const deadline = setTimeout(() => running.forEach((child) => child.kill('SIGKILL')), 10_000);
  Promise.all(exited).then(() => {
    clearTimeout(deadline);
    process.exit(code);
  });
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

function launch(name, script, extraEnv, nodeFlags = []) {
  const stdio = prettyLogs ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'];
  const child = spawn(process.execPath, [...nodeFlags, join(root, script)], { cwd: root, env: { ...env, ...extraEnv }, stdio });
  if (prettyLogs) {
    prettyStream(child.stdout, process.stdout, name.split(' ')[0], { color: process.stdout.isTTY });
    prettyStream(child.stderr, process.stderr, name.split(' ')[0], { color: process.stderr.isTTY });
  }
  child.on('exit', (code, signal) => {
    // During a stop the apps exit as asked (the Gateway and the Manager with 0 after draining).
    if (!stopping) {
      console.error(`${name} exited (${code ?? signal}); stopping the demo`);
      stopAll(1);
    }
  });
  children.push(child);
}

async function ensureRedis() {
  // A Sentinel or Cluster deployment is the operator's; the apps reach it themselves (REDIS_URL unused).
  if (env.REDIS_SENTINELS || env.REDIS_CLUSTER_NODES) return;
  const url = new URL(redisUrl);
  const port = Number(url.port || 6379);
  if (await redisAnswers(url.hostname, port)) return;
  const local = ['127.0.0.1', 'localhost', '::1'].includes(url.hostname);
  // As `npm test` does: on a Debian/Ubuntu machine where we are root, install what is missing.
  if (local && !hasBinary('redis-server')) aptInstall(['redis-server']);
  if (local && hasBinary('redis-server')) {
    console.log(`> no Redis at ${redisUrl}; starting a local redis-server on port ${port}`);
    children.push(startRedisServer(port));
    await waitFor(() => redisAnswers(url.hostname, port), { what: 'redis-server', timeoutMs: 10000 });
    return;
  }
  console.error(
    [
      `Redis does not answer at ${redisUrl} (REDIS_URL). Identity Manager needs Redis 6.2+ for its config bus.`,
      'Get one by any of:',
      '  - Debian/Ubuntu: sudo apt-get install redis-server   (npm start then starts it for you)',
      '  - macOS:         brew install redis && brew services start redis',
      '  - Docker:        docker run -d -p 6379:6379 redis:7',
      '  - or point REDIS_URL at an existing server, e.g. REDIS_URL=redis://host:6379 npm start',
    ].join('\n'),
  );
  process.exit(1);
}

async function main() {
  ensureInstalled();
  build();
  await ensureRedis();
  mkdirSync(dataDir, { recursive: true });
  const previous = existsSync(demoFile) ? JSON.parse(readFileSync(demoFile, 'utf8')) : undefined;
  const adminUsername = env.IDM_ADMIN_USERNAME ?? previous?.admin?.username ?? 'admin';
  const adminPassword = env.IDM_ADMIN_PASSWORD ?? previous?.admin?.password ?? randomBytes(18).toString('base64url');
  const managerUrl = `http://127.0.0.1:${managerPort}`;
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;

  launch('echo upstream', 'apps/echo-upstream/dist/main.js', { ECHO_PORT: String(echoPort) });
  // The demo's upstream is the echo server on loopback, which the upstream policy refuses unless
  // allowed; the Gateway is also told the Manager's listener (PGlite has no PostgreSQL endpoint).
  const upstreamPolicy = { UPSTREAM_ALLOW: env.UPSTREAM_ALLOW ?? '127.0.0.1' };
  launch('manager', 'apps/manager/dist/main.js', {
    ...upstreamPolicy,
    MANAGER_PORT: String(managerPort),
    REDIS_URL: redisUrl,
    IDM_DATA_DIR: dataDir,
    IDM_ADMIN_USERNAME: adminUsername,
    IDM_ADMIN_PASSWORD: adminPassword,
  });
  // The auth record indexer writes where the Manager reads: a PostgreSQL server or Elasticsearch
  // through the indexer app; embedded PGlite belongs to the Manager's process alone, so there the
  // Manager indexes itself (AUTH_RECORDS_INDEXER=auto).
  const indexerProcess = Boolean(env.DATABASE_URL || env.ELASTICSEARCH_URL);
  if (indexerProcess) launch('indexer', 'apps/indexer/dist/main.js', { REDIS_URL: redisUrl });
  const { RECOMMENDED_NODE_FLAGS } = createRequire(import.meta.url)(join(root, 'apps/gateway/dist/config/node-flags.js'));
  // The token issuer is configuration: tokens minted through localhost or 127.0.0.1 are then one issuer's.
  launch(
    'gateway',
    'apps/gateway/dist/main.js',
    {
      ...upstreamPolicy,
      UPSTREAM_DENY: env.UPSTREAM_DENY ?? `127.0.0.1:${managerPort}`,
      GATEWAY_PORT: String(gatewayPort),
      REDIS_URL: redisUrl,
      GATEWAY_ENVIRONMENT: 'dev',
      GATEWAY_PUBLIC_URL: env.GATEWAY_PUBLIC_URL ?? gatewayUrl,
    },
    RECOMMENDED_NODE_FLAGS,
  );

  const answers = (url) =>
    fetch(url).then(
      (r) => r.ok,
      () => false,
    );
  await waitFor(() => answers(`${managerUrl}/health/ready`), { what: 'the Manager', timeoutMs: 180000 });
  const demo = await seedDemo({ managerUrl, username: adminUsername, password: adminPassword, echoUrl: `http://127.0.0.1:${echoPort}`, previous });
  const curl = `curl -H 'x-api-key: ${demo.apiKey}' ${gatewayUrl}/demo/hello`;
  await waitFor(
    () =>
      fetch(`${gatewayUrl}/demo/hello`, { headers: { 'x-api-key': demo.apiKey } }).then(
        (r) => r.ok,
        () => false,
      ),
    {
      what: 'the Gateway to serve the demo proxy',
      timeoutMs: 120000,
    },
  );
  writeFileSync(
    demoFile,
    JSON.stringify({ managerUrl, gatewayUrl, admin: { username: adminUsername, password: adminPassword }, apiKey: demo.apiKey, curl, oauthClient: demo.oauthClient }, null, 2) +
      '\n',
    { mode: 0o600 },
  );
  console.log(
    [
      '',
      '  Identity Manager is running',
      `  Console              ${managerUrl}/ui/   (sign in as the admin below)`,
      `  Manager (admin API)  ${managerUrl}/api/v1   (OpenAPI: ${managerUrl}/api/v1/openapi.json)`,
      `  Gateway              ${gatewayUrl}`,
      `  Admin login          ${adminUsername} / (password in .data/demo.json)`,
      `  Demo API key         ${demo.apiKey}   (shown once; also in .data/demo.json)`,
      '',
      `  Try it:  ${curl}`,
      `  Tokens:  .data/demo.json has oauthClient; see README "Tokens in the demo"`,
      `  Auth analytics: ${managerUrl}/api/v1/analytics/auth (indexed ${indexerProcess ? 'by the indexer process' : "in the Manager's process (PGlite)"})`,
      '',
      '  Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

main().catch((err) => {
  console.error(`npm start failed: ${err.message}`);
  stopAll(1);
});
