import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

/** Admin connection of the PostgreSQL server the tests use (trust auth on this machine). */
export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  kind: 'postgres' | 'pglite';
  /** DATABASE_URL for the Manager (undefined for PGlite). */
  url?: string;
  /** IDM_DATA_DIR for the Manager (holds the PGlite files). */
  dataDir: string;
  drop(): Promise<void>;
}

/** A fresh database of its own for one test file, on the server or in a PGlite directory. */
export async function createTestDatabase(kind: 'postgres' | 'pglite'): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'idm-test-'));
  if (kind === 'pglite') return { kind, dataDir, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  const name = `idm_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    kind,
    url: url.toString(),
    dataDir,
    drop: async () => {
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One statement on the server's admin database (CREATE/DROP DATABASE and the like). */
export async function adminQuery(sql: string): Promise<void> {
  const client = new Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
