import { configChangedChannel, EnvironmentConfigStore, environmentConfigKeys, type ConfigChangedMessage } from '@idm/config-bus';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { eventually } from '@idm/test-kit';
import { removeEnvironmentKeys } from './support/redis-keys';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * What a publication sends, read off the bus the way a Gateway receives it: only what changed,
 * and nothing (no message, no new revision) for a change no Gateway sees.
 */
describe('config publication deltas', () => {
  const suffix = randomBytes(4).toString('hex');
  const environment = `delta-${suffix}`;
  let database: TestDatabase;
  let manager: InProcessManager;
  let redis: Redis;
  let subscriber: Redis;
  let projectId: string;
  const messages: ConfigChangedMessage[] = [];
  const credentialIds: Record<string, string> = {};

  const revision = async () => (await manager.request('GET', '/api/v1/environments')).body.find((e: { name: string }) => e.name === environment).revision as number;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    redis = new Redis(REDIS_URL);
    subscriber = new Redis(REDIS_URL);
    // The @nestjs/microservices Redis transport publishes {pattern, data} on a channel named after the pattern.
    await subscriber.subscribe(configChangedChannel(environment));
    subscriber.on('message', (_channel, json: string) => {
      const { data } = JSON.parse(json) as { data: ConfigChangedMessage };
      if (data.environment === environment) messages.push(data);
    });
    manager = await startInProcessManager(database);
    expect((await manager.request('POST', '/api/v1/environments', { name: environment })).status).toBe(201);
    projectId = (await manager.request('POST', '/api/v1/projects', { name: `proj-${suffix}` })).body.id;
    const proxy = await manager.request('POST', `/api/v1/projects/${projectId}/proxies`, {
      name: 'p',
      basePath: `/delta-${suffix}`,
      upstreamUrl: 'http://127.0.0.1:9',
      environments: [environment],
    });
    expect(proxy.status).toBe(201);
    for (const username of ['alice', 'bob', 'carol']) {
      const created = await manager.request('POST', `/api/v1/projects/${projectId}/credentials`, { username });
      expect(created.status).toBe(201);
      credentialIds[username] = created.body.id;
    }
  }, 120_000);

  afterAll(async () => {
    await manager?.close();
    await subscriber?.quit();
    await removeEnvironmentKeys(redis, environment, `${environment}-gone`);
    redis.disconnect();
    await database?.drop();
  }, 60_000);

  it('sends only the credential that changed', async () => {
    const before = await revision();
    messages.length = 0;
    expect((await manager.request('PATCH', `/api/v1/projects/${projectId}/credentials/${credentialIds.bob}`, { enabled: false })).status).toBe(200);
    const [message] = await eventually(
      async () => messages,
      (m) => m.length > 0,
      { what: 'the config.changed message' },
    );
    expect(message.revision).toBe(before + 1);
    expect(message.credentials.upserted.map((c) => c.username)).toEqual(['bob']);
    expect(message.credentials.removed).toEqual([]);
    expect(message.proxies).toEqual({ upserted: [], removed: [] });
  }, 60_000);

  it('publishes nothing, and keeps the revision, for a change no Gateway sees', async () => {
    const before = await revision();
    messages.length = 0;
    expect((await manager.request('POST', '/api/v1/users', { username: `op${suffix}`, password: 'operator-password-1' })).status).toBe(201);
    expect((await manager.request('POST', '/api/v1/projects', { name: `empty-${suffix}` })).status).toBe(201);
    await new Promise((r) => setTimeout(r, 500)); // publication runs after the commit; give a wrong one time to show
    expect(messages).toEqual([]);
    expect(await revision()).toBe(before);
  }, 60_000);

  it("brings a project's credentials with its first proxy deployed in the environment, and takes them with its last", async () => {
    const other = (await manager.request('POST', '/api/v1/projects', { name: `late-${suffix}` })).body.id as string;
    const ids: string[] = [];
    for (const username of ['dan', 'erin']) ids.push((await manager.request('POST', `/api/v1/projects/${other}/credentials`, { username })).body.id as string);
    expect(await redis.hmget(environmentConfigKeys(environment).credentials, ...ids)).toEqual([null, null]); // no proxy of theirs here yet
    messages.length = 0;
    const proxy = await manager.request('POST', `/api/v1/projects/${other}/proxies`, {
      name: 'late',
      basePath: `/late-${suffix}`,
      upstreamUrl: 'http://127.0.0.1:9',
      environments: [environment],
    });
    expect(proxy.status).toBe(201);
    const [shown] = await eventually(
      async () => messages,
      (m) => m.length > 0,
      { what: 'the deployment published' },
    );
    expect(shown.proxies.upserted.map((p) => p.name)).toEqual(['late']);
    expect(shown.credentials.upserted.map((c) => c.username).sort()).toEqual(['dan', 'erin']);
    messages.length = 0;
    expect((await manager.request('PATCH', `/api/v1/projects/${other}/proxies/${proxy.body.id}`, { environments: [] })).status).toBe(200);
    const [hidden] = await eventually(
      async () => messages,
      (m) => m.length > 0,
      { what: 'the undeployment published' },
    );
    expect(hidden.proxies.removed).toEqual([proxy.body.id]);
    expect(hidden.credentials.removed.sort()).toEqual([...ids].sort());
    expect(await redis.hmget(environmentConfigKeys(environment).credentials, ...ids)).toEqual([null, null]);
  }, 60_000);

  it('logs every change for Gateways that missed it, and reconciles what Redis lost at boot', async () => {
    const store = new EnvironmentConfigStore(redis);
    const head = (await store.head(environment))!;
    expect((await manager.request('PATCH', `/api/v1/projects/${projectId}/credentials/${credentialIds.carol}`, { enabled: false })).status).toBe(200);
    const missed = await eventually(
      () => store.changesSince(environment, head.epoch, head.revision),
      (c) => (c?.length ?? 0) > 0,
      { what: 'the logged change' },
    );
    expect(missed![0].credentials.upserted.map((c) => [c.username, c.enabled])).toEqual([['carol', false]]);
    // Lost behind the Manager's back (e.g. a partial Redis restore): a restarted Manager puts it back.
    await redis.hdel(environmentConfigKeys(environment).credentials, credentialIds.alice);
    await manager.close();
    manager = await startInProcessManager(database);
    const restored = await eventually(
      () => redis.hget(environmentConfigKeys(environment).credentials, credentialIds.alice),
      (json) => json !== null,
      { what: 'alice reconciled' },
    );
    expect(JSON.parse(restored!)).toMatchObject({ username: 'alice', enabled: true });
  }, 120_000);

  it('removes the published config of a deleted environment from Redis', async () => {
    const gone = `${environment}-gone`;
    const created = await manager.request('POST', '/api/v1/environments', { name: gone });
    const keys = environmentConfigKeys(gone);
    await eventually(
      () => redis.exists(keys.head),
      (n) => n === 1,
      { what: 'the empty configuration of the new environment' },
    );
    expect((await manager.request('DELETE', `/api/v1/environments/${created.body.id}`)).status).toBe(204);
    expect(await redis.exists(...Object.values(keys))).toBe(0);
  }, 60_000);
});
