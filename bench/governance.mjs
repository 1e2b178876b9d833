// Governance benchmark (issue: PermissionService + audit at scale). Seeds 100 projects, 1,000
// teams and 100,000 credentials into a fresh PostgreSQL database, starts a built Manager on it,
// and measures p50/p99 of a paginated credential list and of a single credential update (which
// writes its audit row in the same transaction) for a system admin and for a team member, whose
// scope filter is part of the SQL. Run: `node bench/governance.mjs` after a build.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const require = createRequire(join(root, 'apps/manager/package.json'));
const { Client } = require('pg');
const ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 300);
const PORT = 18000 + Math.floor(Math.random() * 1000);
const PASSWORD = 'bench-admin-password';

async function sql(url, text) {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

const dbName = `idm_bench_${randomBytes(4).toString('hex')}`;
const dbUrl = ADMIN_URL.replace(/\/[^/]*$/, `/${dbName}`);
let manager;

async function api(method, path, body, token) {
  const res = await fetch(`http://127.0.0.1:${PORT}/api/v1${path}`, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const payload = await res.json().catch(() => undefined);
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(payload)}`);
  return payload;
}

async function measure(label, call) {
  for (let i = 0; i < 20; i++) await call(i); // warm-up
  const times = [];
  for (let i = 0; i < SAMPLES; i++) {
    const start = performance.now();
    await call(i);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const pick = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return { label, samples: SAMPLES, p50: +pick(0.5).toFixed(2), p99: +pick(0.99).toFixed(2) };
}

async function main() {
  await sql(ADMIN_URL, `CREATE DATABASE ${dbName}`);
  manager = spawn(process.execPath, [join(root, 'apps/manager/dist/main.js')], {
    env: { ...process.env, DATABASE_URL: dbUrl, MANAGER_PORT: String(PORT), MANAGER_HOST: '127.0.0.1', IDM_ADMIN_PASSWORD: PASSWORD, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; ; i++) {
    if (
      await fetch(`http://127.0.0.1:${PORT}/health/ready`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 300) throw new Error('Manager did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  console.error('> seeding 100 projects, 1,000 teams, 100,000 credentials');
  const seedStart = Date.now();
  await sql(
    dbUrl,
    `
    INSERT INTO projects (name) SELECT 'p' || g FROM generate_series(0, 99) g;
    INSERT INTO teams (project_id, name) SELECT p.id, 't' || g FROM projects p, generate_series(0, 9) g;
    INSERT INTO credentials (project_id, team_id, username)
      SELECT t.project_id, t.id, t.name || '-' || p.name || '-c' || lpad(g::text, 3, '0')
      FROM teams t JOIN projects p ON p.id = t.project_id, generate_series(0, 99) g;
    ANALYZE;`,
  );
  console.error(`  seeded in ${Date.now() - seedStart} ms`);
  const admin = (await api('POST', '/auth/login', { username: 'admin', password: PASSWORD })).token;
  const project = (await sql(dbUrl, "SELECT id FROM projects WHERE name = 'p0'")).rows[0].id;
  const team = (await sql(dbUrl, `SELECT id FROM teams WHERE project_id = '${project}' AND name = 't3'`)).rows[0].id;
  const roles = await api('GET', '/roles', undefined, admin);
  const user = await api('POST', '/users', { username: 'member', password: 'member-password' }, admin);
  await api('POST', '/role-bindings', { roleId: roles.find((r) => r.name === 'team-member').id, subject: { type: 'user', id: user.id }, scope: { type: 'team', id: team } }, admin);
  const member = (await api('POST', '/auth/login', { username: 'member', password: 'member-password' })).token;
  const adminTarget = (await sql(dbUrl, `SELECT id FROM credentials WHERE project_id = '${project}' LIMIT 1`)).rows[0].id;
  const memberTarget = (await sql(dbUrl, `SELECT id FROM credentials WHERE team_id = '${team}' LIMIT 1`)).rows[0].id;

  const list = (token) => async (i) => {
    const page = await api('GET', `/projects/${project}/credentials?limit=50&after=${encodeURIComponent(`t3-p0-c0${i % 5}`)}`, undefined, token);
    if (page.length === 0) throw new Error('empty page');
  };
  const update = (token, id) => (i) => api('PATCH', `/projects/${project}/credentials/${id}`, { description: `rev ${i}` }, token);
  const results = [
    await measure('list 50 credentials (system admin)', list(admin)),
    await measure('list 50 credentials (team member)', list(member)),
    await measure('update one credential (system admin)', update(admin, adminTarget)),
    await measure('update one credential (team member)', update(member, memberTarget)),
  ];
  const ratio = +(results[1].p50 / results[0].p50).toFixed(2);
  const table = [
    '| measurement | p50 ms | p99 ms |',
    '|---|---|---|',
    ...results.map((r) => `| ${r.label} | ${r.p50} | ${r.p99} |`),
    '',
    `team member / admin list p50 ratio: ${ratio} (target <= 2)`,
  ].join('\n');
  console.log(table);
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, `bench/results/governance-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ samples: SAMPLES, results, ratio }, null, 2));
  return ratio <= 2 ? 0 : 1;
}

main()
  .then(
    (code) => (process.exitCode = code),
    (err) => {
      console.error(`governance bench failed: ${err.message}`);
      process.exitCode = 1;
    },
  )
  .finally(async () => {
    manager?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await sql(ADMIN_URL, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
  });
