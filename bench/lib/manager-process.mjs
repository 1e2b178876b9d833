// A built Manager on a PostgreSQL database of its own (created here, dropped by `drop`), and a
// small admin API client for it. Used by the benchmarks that need the real control plane.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { waitForHttp } from './http.mjs';
import { freePort, startProcess } from './processes.mjs';

const ADMIN_PASSWORD = `bench-${randomBytes(12).toString('hex')}`;

export function postgres(root) {
  const { Client } = createRequire(join(root, 'apps/manager/package.json'))('pg');
  return {
    adminUrl: process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    /** One statement (or several without parameters) on a short-lived connection. */
    async query(url, text, params) {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        return await client.query(text, params);
      } finally {
        await client.end();
      }
    },
  };
}

/** Creates `idm_bench_<random>`; the returned `drop` removes it (also with connections open). */
export async function createDatabase(pg) {
  const name = `idm_bench_${randomBytes(4).toString('hex')}`;
  await pg.query(pg.adminUrl, `CREATE DATABASE ${name}`);
  return {
    name,
    url: pg.adminUrl.replace(/\/[^/]*$/, `/${name}`),
    drop: () => pg.query(pg.adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** `readyTimeoutMs`: a Manager restarted on a million rows takes longer than a minute on a loaded machine. */
export async function startManager(root, { databaseUrl, redisUrl, logFile, env = {}, readyTimeoutMs = 60_000 }) {
  const port = await freePort();
  // BENCH_MANAGER_NODE_ARGS: e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof' for a profile of the Manager.
  const nodeArgs = (process.env.BENCH_MANAGER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  // --trace-gc stamps its lines with ms since the process started: spawnedAt puts them on the wall clock.
  const spawnedAt = Date.now();
  const child = startProcess(process.execPath, [...nodeArgs, join(root, 'apps/manager/dist/main.js')], {
    cwd: join(root, 'apps/manager'),
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      MANAGER_PORT: String(port),
      MANAGER_HOST: '127.0.0.1',
      IDM_ADMIN_PASSWORD: ADMIN_PASSWORD,
      LOG_LEVEL: 'warn',
      UPSTREAM_ALLOW: '127.0.0.1',
      ...env,
    },
    logFile,
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/health/ready`, {}, 200, readyTimeoutMs, child);
  const api = adminApi(`${base}/api/v1`);
  // Ready is not idle: at boot it publishes what differs (a million rows), so its first answers wait as long.
  await api.login('admin', ADMIN_PASSWORD, readyTimeoutMs);
  return { child, pid: child.pid, api, spawnedAt };
}

function adminApi(base) {
  let token = null;
  const call = async (method, path, body, { timeoutMs = 60_000 } = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 500)}`);
    return text ? JSON.parse(text) : undefined;
  };
  return {
    call,
    async login(username, password, timeoutMs) {
      token = (await call('POST', '/auth/login', { username, password }, { timeoutMs })).token;
    },
  };
}
