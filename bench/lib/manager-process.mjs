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

export async function startManager(root, { databaseUrl, redisUrl, logFile, env = {} }) {
  const port = await freePort();
  const child = startProcess(process.execPath, [join(root, 'apps/manager/dist/main.js')], {
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
  await waitForHttp(`${base}/health/ready`, {}, 200, 60_000, child);
  const api = adminApi(`${base}/api/v1`);
  await api.login('admin', ADMIN_PASSWORD);
  return { child, pid: child.pid, api };
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
    async login(username, password) {
      token = (await call('POST', '/auth/login', { username, password })).token;
    },
  };
}
