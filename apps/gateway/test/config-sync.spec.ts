import { diffSnapshots, newPublicationEpoch, environmentConfigKeys, EnvironmentConfigStore, SNAPSHOT_SCHEMA_VERSION, type ConfigSnapshot } from '@idm/config-bus';
import { UpstreamPolicy } from '@idm/domain';
import Redis from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSnapshot, eventually, freePort, snapshotCredential, snapshotProxy } from '@idm/test-kit';
import { Writable } from 'node:stream';
import pino from 'pino';
import { GatewayMetrics } from '../src/metrics/gateway-metrics';
import { UpstreamPools } from '../src/proxy/upstream-pools';
import { ActiveConfiguration } from '../src/serving/active-configuration';
import { createConfigRedis } from '../src/config-sync/config-redis';
import { ConfigSync } from '../src/config-sync/config-sync';

/**
 * The config bus against real Redis: boot load, delta in place, stale and foreign messages,
 * gap -> reload, a new publication epoch, refused schema versions, the periodic check, and a
 * Redis restart.
 */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const EPOCH = newPublicationEpoch(null, Date.UTC(2026, 0, 1));

function snapshotOf(environment: string, revision: number, basePaths: string[], epoch = EPOCH): ConfigSnapshot {
  return configSnapshot({ environment, epoch, revision, proxies: basePaths.map((basePath) => snapshotProxy({ id: basePath.slice(1), basePath, methods: ['GET'] })) });
}

interface Harness {
  environment: string;
  sync: ConfigSync;
  active: ActiveConfiguration;
  metrics: GatewayMetrics;
  logs: any[];
  stop(): Promise<void>;
}

async function startSync(url: string, environment: string, pollIntervalMs: number): Promise<Harness> {
  const logs: any[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write: (chunk, _e, done) => (logs.push(JSON.parse(String(chunk))), done()) }));
  const redis = createConfigRedis({ mode: 'single', url }, log);
  const pools = new UpstreamPools(
    { connectTimeoutMs: 1000, headersTimeoutMs: 1000, bodyTimeoutMs: 1000, keepAliveTimeoutMs: 1000, connections: 16 },
    new UpstreamPolicy({ allowInternal: false, allow: [], deny: [], ownEndpoints: [] }),
  );
  const metrics = new GatewayMetrics();
  const active = new ActiveConfiguration(pools, metrics);
  const sync = new ConfigSync(environment, pollIntervalMs, redis, new EnvironmentConfigStore(redis), active, metrics, log);
  sync.onApplicationBootstrap();
  return {
    environment,
    sync,
    active,
    metrics,
    logs,
    stop: async () => {
      await sync.onApplicationShutdown();
      await pools.closeAll();
      redis.disconnect();
    },
  };
}

/** A change as the bus delivers it to the handler: the transport's event text. */
const message = (data: unknown) => JSON.stringify({ pattern: 'config.changed', data });

const applied = (h: Harness) => h.logs.filter((l) => l.msg === 'config applied').map((l) => ({ revision: l.revision, mode: l.mode }));

describe('ConfigSync (real Redis)', () => {
  let admin: Redis;
  let store: EnvironmentConfigStore;
  const environments: string[] = [];
  const harnesses: Harness[] = [];
  const newEnvironment = () => {
    const env = `gw-test-${randomBytes(5).toString('hex')}`;
    environments.push(env);
    return env;
  };

  /** A sync started on `snapshot` (written first), stopped after the test, its boot load done. */
  const bootedSync = async (snapshot: ConfigSnapshot, pollIntervalMs = 60_000): Promise<Harness> => {
    await store.write(snapshot);
    const h = await startSync(REDIS_URL, snapshot.environment, pollIntervalMs);
    harnesses.push(h);
    await eventually(() => h.active.revision === snapshot.revision, Boolean, { what: 'boot load' });
    return h;
  };

  beforeAll(() => {
    admin = new Redis(REDIS_URL);
    store = new EnvironmentConfigStore(admin);
  });

  afterEach(async () => {
    await Promise.all(harnesses.splice(0).map((h) => h.stop()));
  });

  afterAll(async () => {
    for (const env of environments) await store.remove(env);
    admin.disconnect();
  });

  it('stays unready without a snapshot, then loads it when it appears', async () => {
    const env = newEnvironment();
    const h = await startSync(REDIS_URL, env, 100);
    harnesses.push(h);
    await eventually(() => h.logs.some((l) => /no config snapshot/.test(l.msg)), Boolean, { what: 'the missing-snapshot warning' });
    expect(h.active.current).toBeNull();
    await store.write(snapshotOf(env, 1, ['/a']));
    await eventually(() => h.active.revision === 1, Boolean, { what: 'revision 1' });
    expect(h.active.current!.route('/a/x')?.proxy.id).toBe('a');
  });

  it('reports the longest event-loop delay of a full load, the turn that publishes it included', async () => {
    const env = newEnvironment();
    const h = await bootedSync(snapshotOf(env, 1, ['/a']));
    const longest = async () => (await h.metrics.registry.getSingleMetric('idm_gateway_config_load_longest_delay_seconds')!.get()).values[0].value;
    const booted = await longest();
    expect(booted).toBeGreaterThan(0);
    expect(booted).toBeLessThan(0.06);
    expect(h.logs.find((l) => l.msg === 'full load: longest event-loop delay')).toMatchObject({ revision: 1, longestDelayMs: Math.round(booted * 10_000) / 10 });

    // A stall in the turn that publishes the next load (the revision gauge is set there): the
    // figure must cover that turn, not stop at the one before it.
    const setRevision = h.metrics.configRevision.set.bind(h.metrics.configRevision);
    jest.spyOn(h.metrics.configRevision, 'set').mockImplementation((value: number) => {
      const until = performance.now() + 80;
      while (performance.now() < until);
      setRevision(value);
    });
    await store.write(snapshotOf(env, 3, ['/b']));
    await h.sync.onConfigChanged(message(diffSnapshots(snapshotOf(env, 2, ['/a']), snapshotOf(env, 3, ['/b']))));
    expect(h.active.revision).toBe(3);
    expect(await longest()).toBeGreaterThanOrEqual(0.08);
    expect(h.logs.filter((l) => l.msg === 'config applied').at(-1)).toMatchObject({ revision: 3, mode: 'reload', reason: 'gap' });
  });

  it('holds no message that arrives during a full load: one catch-up from the change log covers them', async () => {
    const env = newEnvironment();
    // Big enough that the load is still reading when the changes below are published.
    const others = Array.from({ length: 10_000 }, (_, i) => snapshotCredential({ id: `c${i + 1}`, projectId: 'p' }));
    const revisions = [1, 2, 3, 4].map((revision) => ({
      ...snapshotOf(env, revision, ['/a']),
      credentials: [snapshotCredential({ id: 'c0', projectId: 'p', enabled: revision % 2 === 1 }), ...others],
    }));
    await store.write(revisions[0]);
    const h = await startSync(REDIS_URL, env, 60_000);
    harnesses.push(h);
    // The load asks for its new directory once it has read the proxies: the changes are
    // published (log + message, as the Manager does) from then on.
    const arrived: Promise<void>[] = [];
    const published = new Promise<void>((resolve, reject) => {
      const newDirectory = h.active.newDirectory.bind(h.active);
      jest.spyOn(h.active, 'newDirectory').mockImplementationOnce(() => {
        (async () => {
          for (let i = 1; i < revisions.length; i++) {
            const change = diffSnapshots(revisions[i - 1], revisions[i])!;
            if (!(await store.apply(change))) throw new Error(`revision ${i + 1} not applied`);
            arrived.push(h.sync.onConfigChanged(message(change)));
          }
          // Not even parsed while the load runs: text that is no message goes unnoticed too.
          arrived.push(h.sync.onConfigChanged('{"pattern":"config.changed","data":{'));
        })().then(resolve, reject);
        return newDirectory();
      });
    });
    await published;
    await Promise.all(arrived);
    expect(h.active.revision).toBe(4);
    expect(h.active.current!.directory.findById('c0')).toMatchObject({ enabled: false });
    // One task for the three messages, and none of them handled one by one (they would have been
    // stale once the load had replayed the log).
    expect(new Set(arrived).size).toBe(1);
    expect(h.logs.filter((l) => l.msg === 'ignoring stale config.changed')).toEqual([]);
    expect(h.logs.filter((l) => /malformed config.changed/.test(l.msg))).toEqual([]);
  });

  it('applies the next revision in place, ignores stale and foreign messages, reloads on a gap', async () => {
    const env = newEnvironment();
    const r1 = snapshotOf(env, 1, ['/a']);
    const h = await bootedSync(r1);

    // Revision 2 is deliberately not written to Redis: the delta alone must be enough.
    const r2 = snapshotOf(env, 2, ['/a', '/b']);
    await h.sync.onConfigChanged(message(diffSnapshots(r1, r2)));
    expect(h.active.revision).toBe(2);
    expect(h.active.current!.route('/b')?.proxy.id).toBe('b');

    await h.sync.onConfigChanged(message(diffSnapshots(r1, r2))); // replayed: stale
    await h.sync.onConfigChanged(message({ ...diffSnapshots(r2, snapshotOf(env, 3, ['/c']))!, environment: 'someone-else' }));
    expect(h.active.revision).toBe(2);

    // We missed revisions 3 and 4: the delta from 4 cannot apply, so the snapshot is reloaded.
    const r5 = snapshotOf(env, 5, ['/e']);
    await store.write(r5);
    await h.sync.onConfigChanged(message(diffSnapshots(snapshotOf(env, 4, ['/d']), r5)));
    expect(h.active.revision).toBe(5);
    expect(h.active.current!.route('/a')).toBeUndefined();
    expect(h.active.current!.route('/e')?.proxy.id).toBe('e');

    // A payload that does not validate is never applied; it triggers a reload instead. So does
    // one with a field this Gateway does not know (stripping it would apply half a change).
    await h.sync.onConfigChanged(message({ environment: env, revision: 6, previousRevision: 5, proxies: 'nope' }));
    await h.sync.onConfigChanged(message({ ...diffSnapshots(r5, snapshotOf(env, 6, ['/f']))!, rateLimits: [] }));
    // Text that is no message at all: the same.
    await h.sync.onConfigChanged('{"pattern":"config.changed","data":{');
    await h.sync.onConfigChanged('"just a string"');
    expect(h.active.revision).toBe(5);
    expect(h.logs.filter((l) => /malformed config.changed/.test(l.msg))).toHaveLength(4);

    // Signing keys travel in the delta as a whole list and land in the served snapshot.
    const key = { kid: 'k1', algorithm: 'ES256', publicJwk: { kty: 'EC' }, privateKey: 'enc:v1:sealed', activatesAt: new Date().toISOString(), publishedUntil: null };
    await h.sync.onConfigChanged(message(diffSnapshots(r5, { ...snapshotOf(env, 6, ['/e']), signingKeys: [key] })));
    expect(h.active.revision).toBe(6);
    expect(h.active.current!.signingKeys).toEqual([key]);
    expect(applied(h)).toEqual([
      { revision: 1, mode: 'reload' },
      { revision: 2, mode: 'delta' },
      { revision: 5, mode: 'reload' },
      { revision: 6, mode: 'delta' },
    ]);
  });

  it('applies a delta and a replay from the change log to the changed entries only: the others stay the same objects', async () => {
    const env = newEnvironment();
    const credential = (id: string, enabled = true) => snapshotCredential({ id, projectId: 'p', enabled });
    const r1 = { ...snapshotOf(env, 1, ['/a', '/b']), credentials: [credential('c1'), credential('c2')] };
    const h = await bootedSync(r1);
    const untouched = h.active.current!.directory.findById('c2');
    const routeA = h.active.current!.routeOf('a');

    const r2 = { ...r1, revision: 2, credentials: [credential('c1', false), credential('c2')] };
    expect(await store.apply(diffSnapshots(r1, r2)!)).toBe(true);
    await h.sync.onConfigChanged(message(diffSnapshots(r1, r2)));
    expect(h.active.current!.directory.findById('c1')).toMatchObject({ enabled: false });
    expect(h.active.current!.directory.findById('c2')).toBe(untouched);
    expect(h.active.current!.routeOf('a')).toBe(routeA);

    // Revisions 3 and 4 reach only the log: the message of 4 shows the gap, the log fills it.
    const r3 = { ...r2, revision: 3, credentials: [credential('c1', false), credential('c2'), credential('c3')] };
    const r4 = { ...snapshotOf(env, 4, ['/a', '/b', '/c']), credentials: r3.credentials };
    expect(await store.apply(diffSnapshots(r2, r3)!)).toBe(true);
    expect(await store.apply(diffSnapshots(r3, r4)!)).toBe(true);
    await h.sync.onConfigChanged(message(diffSnapshots(r3, r4)));
    expect(h.active.revision).toBe(4);
    expect(applied(h).at(-1)).toEqual({ revision: 4, mode: 'delta' });
    expect(h.active.current!.directory.findById('c3')).toBeDefined();
    expect(h.active.current!.directory.findById('c2')).toBe(untouched);
    expect(h.active.current!.routeOf('a')).toBe(routeA);
    expect(h.active.current!.route('/c')?.proxy.id).toBe('c');
  });

  it('refuses a snapshot of an unknown schema version and keeps serving the old config', async () => {
    const env = newEnvironment();
    const h = await bootedSync(snapshotOf(env, 1, ['/a']), 50);

    await store.write(snapshotOf(env, 2, ['/b']));
    await admin.hset(environmentConfigKeys(env).head, 'schemaVersion', String(SNAPSHOT_SCHEMA_VERSION + 1));
    await h.sync.onConfigChanged(
      message({
        environment: env,
        epoch: EPOCH,
        revision: 2,
        previousRevision: 7,
        proxies: { upserted: [], removed: [] },
        credentials: { upserted: [], removed: [] },
      }),
    );
    await new Promise((r) => setTimeout(r, 300)); // several poll rounds
    await h.sync.settled();

    expect(h.active.revision).toBe(1);
    expect(h.active.current!.route('/a')).toBeDefined();
    const refusals = h.logs.filter((l) => /refusing config snapshot/.test(l.msg));
    expect(refusals).toHaveLength(1); // loud once, not on every poll
    expect(refusals[0]).toMatchObject({ level: 50, schemaVersion: SNAPSHOT_SCHEMA_VERSION + 1, revision: 2, served: 1 });
  });

  it('moves to a new publication epoch (fresh or restored Manager database) even at a lower or equal revision', async () => {
    const env = newEnvironment();
    const old5 = snapshotOf(env, 5, ['/old']);
    const h = await bootedSync(old5);

    // The message alone (no poll for a minute) must bring revision 2 of the new epoch in.
    const fresh = newPublicationEpoch(EPOCH);
    const new2 = snapshotOf(env, 2, ['/fresh'], fresh);
    expect(await store.write(new2)).toBe(true);
    await h.sync.onConfigChanged(message(diffSnapshots(old5, new2)));
    expect(h.active.current!).toMatchObject({ epoch: fresh, revision: 2 });
    expect(h.active.current!.route('/fresh')?.proxy.id).toBe('fresh');
    expect(h.active.current!.route('/old')).toBeUndefined();
    expect(h.logs).toContainEqual(expect.objectContaining({ msg: 'config applied', revision: 2, mode: 'reload', reason: 'new-epoch' }));
  });

  it('picks up a new epoch at the same revision number through the periodic check', async () => {
    const env = newEnvironment();
    const h = await bootedSync(snapshotOf(env, 3, ['/old']), 100);
    const restored = newPublicationEpoch(EPOCH);
    await store.write(snapshotOf(env, 3, ['/restored'], restored));
    await eventually(() => h.active.current!.epoch === restored, Boolean, { what: 'the new epoch via poll' });
    expect(h.active.current!.route('/restored')?.proxy.id).toBe('restored');
  });

  it('picks up a revision it was never told about through the periodic check', async () => {
    const env = newEnvironment();
    const h = await bootedSync(snapshotOf(env, 1, ['/a']), 100);
    await store.write(snapshotOf(env, 2, ['/b']));
    await eventually(() => h.active.revision === 2, Boolean, { what: 'revision 2 via poll' });
    expect(h.logs).toContainEqual(expect.objectContaining({ msg: 'config applied', revision: 2, mode: 'reload', reason: 'poll' }));
  });
});

describe('ConfigSync across a Redis restart', () => {
  let port: number;
  let server: ChildProcess | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'idm-gw-redis-'));

  const startRedis = async () => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dataDir, '--dbfilename', 'dump.rdb'], {
      stdio: 'ignore',
    });
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => 100, maxRetriesPerRequest: null });
    await probe.connect().catch(() => undefined);
    await eventually(async () => (await probe.ping().catch(() => '')) === 'PONG', Boolean, { what: 'redis-server to start' });
    probe.disconnect();
  };
  const stopRedis = () =>
    new Promise<void>((resolve) => {
      if (!server || server.exitCode !== null) return resolve();
      server.once('exit', () => resolve());
      server.kill('SIGKILL');
    });

  afterAll(async () => {
    await stopRedis();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps serving while Redis is gone and resyncs when it is back', async () => {
    port = await freePort();
    await startRedis();
    const url = `redis://127.0.0.1:${port}`;
    const env = 'restart-test';
    const writer = () => {
      const r = new Redis(url);
      return { r, store: new EnvironmentConfigStore(r) };
    };
    let w = writer();
    await w.store.write(snapshotOf(env, 1, ['/a']));
    w.r.disconnect();

    const h = await startSync(url, env, 60_000);
    try {
      await eventually(() => h.active.revision === 1, Boolean, { what: 'boot load' });
      // Revision 3 lands while no message reaches this Gateway (and the poll is 60 s away);
      // it is saved so the restarted Redis comes back with it.
      w = writer();
      await w.store.write(snapshotOf(env, 3, ['/c']));
      await w.r.save();
      w.r.disconnect();
      await stopRedis();
      await eventually(() => h.logs.some((l) => /lost Redis/.test(l.msg)), Boolean, { what: 'the lost-Redis warning' });
      expect(h.active.revision).toBe(1);
      expect(h.active.current!.route('/a')).toBeDefined(); // still serving what it had

      await startRedis();
      // Only the reconnect can bring revision 3 in.
      await eventually(() => h.active.revision === 3, Boolean, { what: 'revision 3 after the reconnect', timeoutMs: 10_000 });
      expect(h.logs).toContainEqual(expect.objectContaining({ msg: 'config applied', revision: 3, reason: 'reconnect' }));
    } finally {
      await h.stop();
    }
  });
});
