import { Client } from 'pg';
import { createTestDatabase, PG_ADMIN_URL, type TestDatabase } from './support/test-database';
import { Database, WARM_CONNECTIONS } from '../src/database/database';

/** Backends connected to `name`, as the server counts them (the check's own connection is on the admin database). */
async function backendsOn(name: string): Promise<number> {
  const admin = new Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1', [name]);
    return Number(rows[0].n);
  } finally {
    await admin.end();
  }
}

describe('Database on a PostgreSQL server', () => {
  let server: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    server = await createTestDatabase('postgres');
    database = await Database.open({ url: server.url, dataDir: server.dataDir });
  });

  afterAll(async () => {
    await database?.shutdown();
    await server?.drop();
  });

  it('opens its warm connections at boot and keeps them through a quiet period past the 10 s idle timeout', async () => {
    const name = new URL(server.url!).pathname.slice(1);
    expect(await backendsOn(name)).toBe(WARM_CONNECTIONS);
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    expect(await backendsOn(name)).toBe(WARM_CONNECTIONS);
    await database.ping();
    expect(await backendsOn(name)).toBe(WARM_CONNECTIONS);
  }, 60_000);
});
