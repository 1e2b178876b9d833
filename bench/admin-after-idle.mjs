#!/usr/bin/env node
// An admin's write after a quiet moment, against the same write back to back (bench/README.md,
// "Warm connections"). A Manager on a PostgreSQL database of its own and a private Redis: one
// proxy, five credentials; PATCHes of `enabled`, first back to back (the reference), then each
// after an idle gap longer than pg's 10 s idle timeout, so a pool without warm connections has
// closed them all by then. The figure is the ratio of the medians, idle / back to back (1.0: the
// quiet moment costs nothing).
//
// Settings (env): BENCH_IDLE_SECONDS=12, BENCH_IDLE_WRITES=6, BENCH_BACK_TO_BACK=30,
//   BENCH_ROOT: the checkout whose built Manager runs (default: this one), to compare builds.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDatabase, postgres, startManager } from './lib/manager-process.mjs';
import { percentile } from './lib/percentile.mjs';
import { startPrivateRedis } from './lib/redis.mjs';
import { runLifecycle } from './lib/run-lifecycle.mjs';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const root = resolve(process.env.BENCH_ROOT ?? here);
const num = (name, fallback) => Number(process.env[name] ?? fallback);
const idleMs = num('BENCH_IDLE_SECONDS', 12) * 1000;
const idleWrites = num('BENCH_IDLE_WRITES', 6);
const backToBack = num('BENCH_BACK_TO_BACK', 30);

const log = (msg) => process.stderr.write(`[admin-after-idle ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const { tmp, defer, runToExit } = runLifecycle({ prefix: 'idm-idle-', maxSeconds: num('BENCH_MAX_SECONDS', 600), log });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ms1 = (ms) => Math.round(ms * 10) / 10;

async function main() {
  const redis = await startPrivateRedis(here, tmp);
  defer(redis.stop);
  const pg = postgres(here);
  const db = await createDatabase(pg);
  defer(() => db.drop());
  const { api } = await startManager(root, { databaseUrl: db.url, redisUrl: redis.url, logFile: `${tmp}/manager.log` });
  await api.call('POST', '/environments', { name: 'idle' });
  const project = await api.call('POST', '/projects', { name: 'idle' });
  await api.call('POST', `/projects/${project.id}/proxies`, {
    name: 'idle',
    basePath: '/idle',
    upstreamUrl: 'http://127.0.0.1:9',
    methods: ['GET'],
    policies: [{ type: 'api-key', config: {} }],
    environments: ['idle'],
  });
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await api.call('POST', `/projects/${project.id}/credentials`, { username: `idle-${i}` })).id);
  let n = 0;
  const write = async () => {
    n += 1;
    const t0 = performance.now();
    await api.call('PATCH', `/projects/${project.id}/credentials/${ids[n % ids.length]}`, { enabled: n % 2 === 0 });
    return performance.now() - t0;
  };
  for (let i = 0; i < 5; i++) await write(); // warm-up: the first writes of their kind
  const warm = [];
  for (let i = 0; i < backToBack; i++) warm.push(await write());
  const idle = [];
  for (let i = 0; i < idleWrites; i++) {
    await sleep(idleMs);
    idle.push(await write());
  }
  const figures = {
    root,
    idleSeconds: idleMs / 1000,
    backToBackP50Ms: ms1(percentile(warm, 0.5)),
    afterIdleP50Ms: ms1(percentile(idle, 0.5)),
    ratio: Math.round((percentile(idle, 0.5) / percentile(warm, 0.5)) * 100) / 100,
    afterIdleMs: idle.map(ms1),
  };
  log(
    `back to back p50 ${figures.backToBackP50Ms} ms; after ${figures.idleSeconds} s idle p50 ${figures.afterIdleP50Ms} ms (${figures.afterIdleMs.join(', ')}); ratio ${figures.ratio}`,
  );
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

await runToExit(main);
