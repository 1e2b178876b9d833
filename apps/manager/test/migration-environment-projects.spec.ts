import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const MIGRATIONS = join(__dirname, '..', 'migrations');
const ADDED_IN = '0022_deployment_project.sql';

/** Runs one migration file as drizzle's migrator does: statement by statement. */
async function runMigration(sql: Client, file: string): Promise<void> {
  for (const statement of readFileSync(join(MIGRATIONS, file), 'utf8').split('--> statement-breakpoint')) await sql.query(statement);
}

/**
 * An installation upgraded to migration 0022 already has deployments: environment_projects must
 * start with their counts (the triggers only see what comes after), and a deployment row must get
 * its proxy's project.
 */
describe(`upgrading a database with deployments to ${ADDED_IN}`, () => {
  let database: TestDatabase;
  let sql: Client;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    sql = new Client({ connectionString: database.url });
    await sql.connect();
  });

  afterAll(async () => {
    await sql?.end();
    await database?.drop();
  });

  it('counts the existing deployments per project and environment, then keeps counting', async () => {
    const files = readdirSync(MIGRATIONS)
      .filter((f) => f.endsWith('.sql'))
      .sort();
    for (const file of files.filter((f) => f < ADDED_IN)) await runMigration(sql, file);
    const [pa, pb] = ['a', 'b'].map((t) => `00000000-0000-0000-0000-0000000000${t}1`);
    const [ea, eb] = ['a', 'b'].map((t) => `00000000-0000-0000-0000-00000000000${t}`);
    await sql.query(`INSERT INTO projects (id, name) VALUES ($1, 'pa'), ($2, 'pb')`, [pa, pb]);
    await sql.query(`INSERT INTO environments (id, name) VALUES ($1, 'ea'), ($2, 'eb')`, [ea, eb]);
    await sql.query(
      `INSERT INTO api_proxies (project_id, name, base_path, upstream_url, methods, policies)
         SELECT p, 'x' || g || p, '/x' || g || p, 'http://127.0.0.1:9', '{GET}', '[]' FROM generate_series(1, 3) g, unnest($1::uuid[]) p`,
      [[pa, pb]],
    );
    await sql.query(`INSERT INTO proxy_deployments (proxy_id, environment_id) SELECT id, $1 FROM api_proxies`, [ea]);
    await sql.query(`INSERT INTO proxy_deployments (proxy_id, environment_id) SELECT id, $1 FROM api_proxies WHERE project_id = $2 LIMIT 2`, [eb, pb]);

    for (const file of files.filter((f) => f >= ADDED_IN)) await runMigration(sql, file);
    const counts = async () => (await sql.query('SELECT project_id, environment_id, proxies FROM environment_projects ORDER BY 1, 2')).rows;
    expect(await counts()).toEqual([
      { project_id: pa, environment_id: ea, proxies: 3 },
      { project_id: pb, environment_id: ea, proxies: 3 },
      { project_id: pb, environment_id: eb, proxies: 2 },
    ]);
    const mismatched = await sql.query('SELECT 1 FROM proxy_deployments d JOIN api_proxies p ON p.id = d.proxy_id WHERE d.project_id <> p.project_id');
    expect(mismatched.rowCount).toBe(0);

    // The proxies deployed to eb are deleted: their deployments go by cascade, and so does the pair.
    await sql.query('DELETE FROM api_proxies WHERE id IN (SELECT proxy_id FROM proxy_deployments WHERE environment_id = $1)', [eb]);
    expect(await counts()).toEqual([
      { project_id: pa, environment_id: ea, proxies: 3 },
      { project_id: pb, environment_id: ea, proxies: 1 },
    ]);
  }, 60_000);
});
