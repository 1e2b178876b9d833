import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { startInProcessManager, type InProcessManager } from './in-process-manager';
import { removeEnvironmentKeys } from './redis-keys';
import { createTestDatabase, type TestDatabase } from './test-database';

/**
 * What the publication specs compare a change in: a Manager on its own PostgreSQL database with
 * two environments (`shown`, where the spec deploys the credential's project, and `other`), the
 * shared Redis the Manager publishes to, and a SQL client for what the API does not show.
 */
export interface TwoEnvironments {
  suffix: string;
  shown: string;
  other: string;
  database: TestDatabase;
  manager: InProcessManager;
  redis: Redis;
  sql: Client;
  /** Removes everything it created, the environments' keys in Redis included. */
  close(): Promise<void>;
}

export async function startTwoEnvironments(prefix: string): Promise<TwoEnvironments> {
  const suffix = randomBytes(4).toString('hex');
  const [shown, other] = [`${prefix}-a-${suffix}`, `${prefix}-b-${suffix}`];
  const database = await createTestDatabase('postgres');
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const manager = await startInProcessManager(database);
  const sql = new Client({ connectionString: database.url });
  await sql.connect();
  const close = async () => {
    await sql.end();
    await manager.close();
    await removeEnvironmentKeys(redis, shown, other);
    redis.disconnect();
    await database.drop();
  };
  for (const name of [shown, other]) {
    const created = await manager.request('POST', '/api/v1/environments', { name });
    if (created.status !== 201) {
      await close();
      throw new Error(`environment ${name} not created: ${created.status} ${JSON.stringify(created.body)}`);
    }
  }
  return { suffix, shown, other, database, manager, redis, sql, close };
}
