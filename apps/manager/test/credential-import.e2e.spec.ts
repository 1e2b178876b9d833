import { generateApiKey } from '@idm/domain';
import { eventually, type AppProcess } from '@idm/test-kit';
import * as argon2 from 'argon2';
import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';

/**
 * Imported credentials work on a real Gateway process: API keys given in clear authenticate (the
 * Manager stored their SHA-256), and a password hash taken over from another system verifies
 * basic-auth without the Manager ever seeing the password.
 */
describe('bulk-imported credentials on a Gateway', () => {
  const ENV = 'import-e2e';
  let cluster: Cluster;
  let gateway: AppProcess;
  let admin: AdminClient;

  const answer = (path: string, headers: Record<string, string>) => fetch(gateway.baseUrl + path, { headers }).then((r) => r.status);
  const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

  beforeAll(async () => {
    cluster = await startCluster({ environment: ENV, gateways: [{}] });
    ({ admin } = cluster);
    [gateway] = cluster.gateways;
  }, 90_000);

  afterAll(() => cluster?.stop(), 30_000);

  it('authenticates imported API keys and an imported argon2id hash', async () => {
    const projectId = (await admin.projects.create({ name: 'imported' })).id;
    for (const [name, type] of [
      ['keys', 'api-key'],
      ['basic', 'basic-auth'],
    ] as const) {
      await admin.proxies.create(projectId, { name, basePath: `/${name}`, upstreamUrl: cluster.echoUrl, policies: [{ type, config: {} }], environments: [ENV] });
    }
    const keys = Array.from({ length: 100 }, () => generateApiKey().key);
    const passwordHash = await argon2.hash('migrated-password', { type: argon2.argon2id });
    const imported = await admin.credentials.import(projectId, {
      credentials: [...keys.map((key, i) => ({ username: `app-${i}`, apiKeys: [key] })), { username: 'migrated', passwordHash }],
    });
    expect(imported.imported).toBe(101);

    for (const key of [keys[0], keys[57], keys[99]]) {
      await eventually(
        () => answer('/keys/items', { 'x-api-key': key }),
        (status) => status === 200,
        { what: 'an imported API key accepted' },
      );
    }
    expect(await answer('/keys/items', { 'x-api-key': generateApiKey().key })).toBe(401);
    await eventually(
      () => answer('/basic/items', basic('migrated', 'migrated-password')),
      (status) => status === 200,
      { what: 'the imported password hash verified' },
    );
    expect(await answer('/basic/items', basic('migrated', 'wrong-password'))).toBe(401);
  }, 60_000);
});
