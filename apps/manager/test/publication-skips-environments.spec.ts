import { EnvironmentConfigStore } from '@idm/config-bus';
import { PUBLICATION_LOCK_NAMESPACE } from '../src/config-publisher/config-publisher';
import { startTwoEnvironments, type TwoEnvironments } from './support/two-environments';

/**
 * A credential change publishes only where it can matter: an environment that neither shows
 * the credential's project nor holds the credential is not compared, so its publication lock
 * (here held by "another Manager") is not waited for, while the environment that shows it is
 * published as before.
 */
describe('config publication of a credential change', () => {
  let fixture: TwoEnvironments;
  let { suffix, shown, other, manager, redis, sql } = {} as TwoEnvironments;

  beforeAll(async () => {
    fixture = await startTwoEnvironments('skip');
    ({ suffix, shown, other, manager, redis, sql } = fixture);
  }, 120_000);

  afterAll(() => fixture?.close(), 60_000);

  it('does not wait for an environment that neither shows nor holds the credential', async () => {
    const projectId = (await manager.request('POST', '/api/v1/projects', { name: `proj-${suffix}` })).body.id;
    const proxy = { name: 'p', basePath: `/skip-${suffix}`, upstreamUrl: 'http://127.0.0.1:9', environments: [shown] };
    expect((await manager.request('POST', `/api/v1/projects/${projectId}/proxies`, proxy)).status).toBe(201);
    const created = await manager.request('POST', `/api/v1/projects/${projectId}/credentials`, { username: 'alice' });
    expect(created.status).toBe(201);
    const store = new EnvironmentConfigStore(redis);
    const before = (await store.load(other))!.revision;

    await sql.query('SELECT pg_advisory_lock($1, hashtext($2))', [PUBLICATION_LOCK_NAMESPACE, other]);
    try {
      // Answers while the other environment's lock is held: its publication was not attempted.
      expect((await manager.request('PATCH', `/api/v1/projects/${projectId}/credentials/${created.body.id}`, { enabled: false })).status).toBe(200);
    } finally {
      await sql.query('SELECT pg_advisory_unlock($1, hashtext($2))', [PUBLICATION_LOCK_NAMESPACE, other]);
    }
    const published = (await store.load(shown))!;
    expect(published.credentials.find((c) => c.id === created.body.id)?.enabled).toBe(false);
    expect((await store.load(other))!.revision).toBe(before);
    expect((await store.load(other))!.credentials).toEqual([]);
  }, 120_000);
});
