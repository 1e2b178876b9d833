import { CONFIG_CHANGED, environmentConfigKeys, type ConfigChangedMessage } from '@idm/config-bus';
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
    await subscriber.subscribe(CONFIG_CHANGED);
    subscriber.on('message', (_channel, json: string) => {
      const { data } = JSON.parse(json) as { data: ConfigChangedMessage };
      if (data.environment === environment) messages.push(data);
    });
    manager = await startInProcessManager(database);
    expect((await manager.request('POST', '/api/v1/environments', { name: environment })).status).toBe(201);
    projectId = (await manager.request('POST', '/api/v1/projects', { name: `proj-${suffix}` })).body.id;
    const proxy = await manager.request('POST', `/api/v1/projects/${projectId}/proxies`, { name: 'p', basePath: `/delta-${suffix}`, upstreamUrl: 'http://127.0.0.1:9', environments: [environment] });
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
    const [message] = await eventually(async () => messages, (m) => m.length > 0, { what: 'the config.changed message' });
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

  it('removes the published config of a deleted environment from Redis', async () => {
    const gone = `${environment}-gone`;
    const created = await manager.request('POST', '/api/v1/environments', { name: gone });
    const keys = environmentConfigKeys(gone);
    await eventually(() => redis.exists(keys.head), (n) => n === 1, { what: 'the empty configuration of the new environment' });
    expect((await manager.request('DELETE', `/api/v1/environments/${created.body.id}`)).status).toBe(204);
    expect(await redis.exists(...Object.values(keys))).toBe(0);
  }, 60_000);
});
