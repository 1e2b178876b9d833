#!/usr/bin/env node
// The `oidc` policy's session work per request, in process (issue #15): the real OidcSessions,
// CookieSealer and RedisOidcSessionStore against a private redis-server, no HTTP, so a loaded
// machine distorts it far less than the req/s ratio of bench/oidc-policy.mjs. One session (a
// record of the size the policy stores: claims, ID, access and refresh tokens) resumed by
// BENCH_CONCURRENCY requests at once (the bench's connections sharing one cookie), BENCH_TICKS
// times; CPU is process.cpuUsage (user + system, the socket writes included) per request, the
// variants alternated BENCH_REPEATS times, medians reported.
//
//   uncached  this tree's classes, the store without its read cache (every request reads Redis, pipelined)
//   cached    this tree's classes, the store with its read cache (a second) and invalidation subscriber
//   before    BENCH_BEFORE=<dir with an older sessions.js, sealed-cookie.js, redis-session-store.js>
//             (optional: e.g. the previous commit's sources transpiled, to compare builds in one process)
//
// Settings (env): BENCH_CONCURRENCY=50 BENCH_TICKS=400 BENCH_REPEATS=7
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPrivateRedis } from './lib/redis.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'libs/policies/package.json'));
const num = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const CONCURRENCY = num('BENCH_CONCURRENCY', 50);
const TICKS = num('BENCH_TICKS', 400);
const REPEATS = num('BENCH_REPEATS', 7);
const builds = { current: join(root, 'libs/policies/dist/oidc') };
if (process.env.BENCH_BEFORE) builds.before = process.env.BENCH_BEFORE;
const load = (dir) => ({
  OidcSessions: require(join(dir, 'sessions.js')).OidcSessions,
  CookieSealer: require(join(dir, 'sealed-cookie.js')).CookieSealer,
  RedisOidcSessionStore: require(join(dir, 'redis-session-store.js')).RedisOidcSessionStore,
});

const dir = mkdtempSync(join(tmpdir(), 'idm-oidc-cost-'));
const redis = await startPrivateRedis(root, dir);
const key = { kid: 'k1', retiresAt: Infinity, x5tS256: null, x5t: null, certificates: [], publicKey: null, privateKey: new Uint8Array(randomBytes(32)) };
const jwtLike = (bytes) => ['eyJhbGciOiJSUzI1NiJ9', randomBytes(bytes).toString('base64url'), randomBytes(256).toString('base64url')].join('.');
const claims = { sub: 'alice', email: 'alice@example.test', name: 'Alice Example', roles: ['reader', 'writer'] };
const tokens = () => ({ idToken: jwtLike(400), accessToken: jwtLike(500), accessTokenExpiresAt: Date.now() + 3_600_000, refreshToken: randomBytes(32).toString('base64url') });

/** A variant: its sessions, store and the cookie of one logged-in session. */
async function variant(build, cached) {
  const { OidcSessions, CookieSealer, RedisOidcSessionStore } = load(build);
  const subscriber = cached ? redis.redis.duplicate({ lazyConnect: false }) : null;
  const store = new RedisOidcSessionStore(redis.redis, `bench:oidc-rp:${Math.random().toString(36).slice(2)}:`, cached ? { subscriber, ttlMs: 1_000 } : undefined);
  if (cached) while (!store.listening) await new Promise((resolve) => setTimeout(resolve, 10));
  const sessions = new OidcSessions(store, new CookieSealer([key], 'proxy-bench', Date.now), 'proxy-bench', 'OIDC_SESSION', 30 * 60_000, 8 * 3_600_000, Date.now);
  const cookie = await sessions.start(claims, tokens());
  return { sessions, cookie, close: () => (store.close?.(), subscriber?.disconnect()) };
}

// The private redis-server goes whatever happens (a failed run must not leave it behind).
try {
  const variants = { uncached: await variant(builds.current, false), cached: await variant(builds.current, true) };
  if (builds.before) variants.before = await variant(builds.before, false);

  async function run(v) {
    const start = process.cpuUsage();
    for (let t = 0; t < TICKS; t++) {
      const resumed = await Promise.all(Array.from({ length: CONCURRENCY }, () => v.sessions.resume(v.cookie)));
      if (typeof resumed[0] !== 'object') throw new Error(`the session did not resume: ${resumed[0]}`);
    }
    const used = process.cpuUsage(start);
    return (used.user + used.system) / (TICKS * CONCURRENCY);
  }

  const names = Object.keys(variants);
  const results = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) await run(variants[n]); // warm-up
  for (let r = 0; r < REPEATS; r++) for (const n of names) results[n].push(await run(variants[n]));
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    `CPU µs per session request (median of ${REPEATS}, ${TICKS} ticks of ${CONCURRENCY} at once), load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' / ')}`,
  );
  for (const n of names) console.log(`${n.padEnd(9)} ${median(results[n]).toFixed(2).padStart(7)}   runs ${results[n].map((x) => x.toFixed(2)).join(' ')}`);
  for (const v of Object.values(variants)) v.close();
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
