import { configChangedChannel, diffSnapshots, environmentConfigKeys, EnvironmentConfigStore, type ConfigChangedMessage, type ConfigSnapshot } from '@idm/config-bus';
import { generateApiKey } from '@idm/domain';
import { hash } from 'argon2';
import Redis from 'ioredis';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { configSnapshot, eventually, freePort, gatewayNodeFlags, type RunningServer, snapshotCredential, snapshotProxy, startEchoServer } from '@idm/test-kit';

/**
 * The built Gateway (dist/main.js) as a real process: Redis snapshot at boot, `config.changed`
 * published through Nest's ClientRedis, health, metrics, JSON logs, clean shutdown, and the
 * fail-fast environment check. Needs a build (`npx -y pnpm@9 run build`, which `npm test` runs).
 */
const ROOT = resolve(__dirname, '../../..');
const MAIN = join(ROOT, 'apps/gateway/dist/main.js');
const PUBLISHER = join(__dirname, 'config-changed.publisher.mjs');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

class GatewayProcess {
  readonly logs: any[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  /** `nodeFlags`: production's unless a test is about starting without them. */
  constructor(
    readonly port: number,
    env: Record<string, string>,
    nodeFlags: string[] = gatewayNodeFlags(),
  ) {
    this.child = spawn(process.execPath, [...nodeFlags, MAIN], {
      env: { ...process.env, GATEWAY_PORT: String(port), GATEWAY_HOST: '127.0.0.1', REDIS_URL, LOG_LEVEL: 'info', UPSTREAM_ALLOW: '127.0.0.1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let pending = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString('utf8')).split('\n');
      pending = lines.pop()!;
      for (const line of lines) if (line.trim()) this.logs.push(JSON.parse(line));
    });
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    this.exited = new Promise((done) => this.child.once('exit', (code) => done(code)));
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  fetch(path: string, init?: RequestInit): Promise<Response> {
    return fetch(this.url(path), init);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal);
    return this.exited;
  }

  logged(match: Record<string, unknown>): any {
    return this.logs.find((l) => Object.entries(match).every(([k, v]) => (v instanceof RegExp ? v.test(l[k]) : l[k] === v)));
  }
}

/** Publishes on the message's environment's channel, as the Manager does. */
function publish(message: ConfigChangedMessage | null): Promise<void> {
  return new Promise((done, fail) =>
    execFile(process.execPath, [PUBLISHER, REDIS_URL, configChangedChannel(message!.environment), JSON.stringify(message)], { cwd: __dirname }, (err, _out, stderr) =>
      err ? fail(new Error(`${err.message}\n${stderr}`)) : done(),
    ),
  );
}

describe('Gateway process (end to end)', () => {
  const environment = `gw-e2e-${randomBytes(5).toString('hex')}`;
  const aliceKey = generateApiKey();
  let redis: Redis;
  let store: EnvironmentConfigStore;
  let echo: RunningServer;
  let gateway: GatewayProcess;
  let passwordHash: string;
  const others: GatewayProcess[] = [];

  const snapshot = (revision: number, basePaths: string[]): ConfigSnapshot =>
    configSnapshot({
      environment,
      epoch: 'e2e',
      revision,
      proxies: basePaths.map((basePath) =>
        snapshotProxy({
          id: `proxy${basePath.replace(/\//g, '-')}`,
          projectId: 'proj',
          name: basePath.slice(1),
          basePath,
          upstreamUrl: echo.url,
          methods: ['GET', 'POST'],
          policies: basePath === '/basic' ? [{ type: 'basic-auth', config: {} }] : [{ type: 'api-key', config: {} }],
        }),
      ),
      credentials: [
        snapshotCredential({
          id: 'c-alice',
          projectId: 'proj',
          username: 'alice',
          passwordHash,
          apiKeys: [{ id: 'k1', prefix: aliceKey.prefix, hash: aliceKey.hash, expiresAt: null }],
        }),
      ],
    });

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx -y pnpm@9 run build)`);
    redis = new Redis(REDIS_URL);
    store = new EnvironmentConfigStore(redis);
    echo = await startEchoServer();
    passwordHash = await hash('correct horse battery', { type: 2 });
    await store.write(snapshot(1, ['/demo', '/basic']));
    // The periodic check is pushed out of the way so that only pub/sub can explain a change.
    gateway = new GatewayProcess(await freePort(), { GATEWAY_ENVIRONMENT: environment, CONFIG_POLL_INTERVAL_MS: '600000' });
    await eventually(async () => (await gateway.fetch('/health/ready')).ok, Boolean, { what: 'the gateway to become ready', timeoutMs: 20_000 });
  }, 40_000);

  afterAll(async () => {
    await Promise.all([gateway, ...others].map((g) => g?.stop('SIGKILL')));
    await store.remove(environment);
    redis.disconnect();
    await echo.close();
  });

  it('reports liveness and readiness with environment, revision and Redis status', async () => {
    expect(await (await gateway.fetch('/health/live')).json()).toEqual({ status: 'ok' });
    expect(await (await gateway.fetch('/health/ready')).json()).toEqual({ status: 'ready', environment, revision: 1, redis: 'ready' });
    expect(gateway.logged({ msg: 'config applied', revision: 1, mode: 'reload', environment })).toBeDefined();
    expect(gateway.logged({ msg: /started without/ })).toBeUndefined(); // started as production starts it
  });

  it('proxies with api-key and basic-auth and answers 401 with the challenge', async () => {
    const keyed = await gateway.fetch('/demo/things?x=1', { headers: { 'x-api-key': aliceKey.key } });
    expect(keyed.status).toBe(200);
    expect(await keyed.json()).toMatchObject({ path: '/things', query: { x: '1' }, headers: { 'x-authenticated-userid': 'alice' } });

    const basic = await gateway.fetch('/basic/me', { headers: { authorization: `Basic ${Buffer.from('alice:correct horse battery').toString('base64')}` } });
    expect(basic.status).toBe(200);
    expect((await basic.json()).headers['x-authenticated-userid']).toBe('alice');

    const denied = await gateway.fetch('/demo/things', { headers: { 'x-request-id': 'e2e-denied-1' } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toBe('ApiKey header="x-api-key"');
    expect(await denied.json()).toEqual({ code: 'missing_credentials', message: expect.any(String), requestId: 'e2e-denied-1' });
    await eventually(async () => gateway.logged({ reqId: 'e2e-denied-1', msg: 'request rejected' }), Boolean, { what: 'the rejection log line' });

    expect((await gateway.fetch('/unknown')).status).toBe(404);
  });

  it('exposes Prometheus metrics', async () => {
    const res = await gateway.fetch('/metrics');
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/idm_gateway_requests_total\{proxy="demo",base_path="\/demo",status_class="2xx"\} [1-9]/);
    expect(text).toMatch(/idm_gateway_upstream_duration_seconds_bucket\{/);
    expect(text).toMatch(/idm_gateway_config_revision 1/);
  });

  it('applies the next revision from a published config.changed delta', async () => {
    const before = snapshot(1, ['/demo', '/basic']);
    const after = snapshot(2, ['/demo', '/basic', '/fresh']);
    await store.write(after);
    await publish(diffSnapshots(before, after));
    await eventually(async () => (await gateway.fetch('/fresh/x', { headers: { 'x-api-key': aliceKey.key } })).status === 200, Boolean, { what: 'the new proxy to serve' });
    expect(gateway.logged({ msg: 'config applied', revision: 2, mode: 'delta' })).toBeDefined();
  });

  it('reloads the snapshot when a message does not follow its revision', async () => {
    const r4 = snapshot(4, ['/demo', '/basic', '/fourth']);
    await store.write(r4);
    await publish(diffSnapshots(snapshot(3, ['/demo']), r4));
    await eventually(async () => (await (await gateway.fetch('/health/ready')).json()).revision === 4, Boolean, { what: 'revision 4' });
    expect(gateway.logged({ msg: 'config applied', revision: 4, mode: 'reload', reason: 'gap' })).toBeDefined();
    expect((await gateway.fetch('/fresh/x', { headers: { 'x-api-key': aliceKey.key } })).status).toBe(404);
  });

  it('refuses a snapshot with an unknown schema version, loudly, and keeps serving', async () => {
    await store.write(snapshot(5, ['/v2']));
    await redis.hset(environmentConfigKeys(environment).head, 'schemaVersion', '99');
    await publish({ ...diffSnapshots(snapshot(2, []), snapshot(5, ['/v2']))!, previousRevision: 2 });
    await eventually(async () => gateway.logged({ msg: /refusing config snapshot/, schemaVersion: 99 }), Boolean, { what: 'the refusal' });
    expect(await (await gateway.fetch('/health/ready')).json()).toMatchObject({ status: 'ready', revision: 4 });
    expect((await gateway.fetch('/demo/x', { headers: { 'x-api-key': aliceKey.key } })).status).toBe(200);
  });

  it('is not ready without a snapshot, answers 503, and becomes ready when one appears', async () => {
    const lonely = `gw-e2e-${randomBytes(5).toString('hex')}`;
    const g = new GatewayProcess(await freePort(), { GATEWAY_ENVIRONMENT: lonely, CONFIG_POLL_INTERVAL_MS: '200' }, []);
    others.push(g);
    try {
      const notReady = await eventually(
        async () => {
          const res = await g.fetch('/health/ready');
          return res.status === 503 && res;
        },
        Boolean,
        { what: 'the second gateway to answer' },
      );
      expect(await (notReady as Response).json()).toEqual({ status: 'not_ready', environment: lonely, revision: null, redis: 'ready' });
      // Started without the production flags (as plain `node dist/main.js`): it says which and why.
      expect(g.logged({ msg: /started without --no-memory-reducer/ })).toMatchObject({ missing: ['--no-memory-reducer'] });
      const early = await g.fetch('/demo/x');
      expect(early.status).toBe(503);
      expect(await early.json()).toMatchObject({ code: 'config_unavailable' });

      await store.write({ ...snapshot(1, ['/demo']), environment: lonely });
      await eventually(async () => (await g.fetch('/health/ready')).ok, Boolean, { what: 'readiness after the snapshot appears' });
    } finally {
      await store.remove(lonely);
    }
  });

  it('shuts down cleanly on SIGTERM', async () => {
    const own = `gw-e2e-${randomBytes(5).toString('hex')}`;
    await store.write({ ...snapshot(1, ['/demo']), environment: own });
    const g = new GatewayProcess(await freePort(), { GATEWAY_ENVIRONMENT: own });
    others.push(g);
    try {
      await eventually(async () => (await g.fetch('/health/ready')).ok, Boolean, { what: 'readiness' });
      expect((await g.fetch('/demo/x', { headers: { 'x-api-key': aliceKey.key } })).status).toBe(200); // leaves a keep-alive pool behind
      const started = Date.now();
      expect(await g.stop('SIGTERM')).toBe(0);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(g.logged({ msg: 'shutting down', signal: 'SIGTERM' })).toBeDefined();
    } finally {
      await store.remove(own);
    }
  });

  it('refuses to start with a bad environment, naming every bad variable', async () => {
    const g = new GatewayProcess(await freePort(), { GATEWAY_PORT: 'eighty', LOG_LEVEL: 'loud', UPSTREAM_CONNECT_TIMEOUT_MS: '-1', GATEWAY_ENVIRONMENT: 'Not Valid!' });
    expect(await g.exited).toBe(1);
    for (const name of ['GATEWAY_PORT', 'LOG_LEVEL', 'UPSTREAM_CONNECT_TIMEOUT_MS', 'GATEWAY_ENVIRONMENT']) expect(g.stderr).toContain(name);
  });
});
