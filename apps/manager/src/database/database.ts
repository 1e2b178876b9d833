import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql, type ExtractTablesWithRelations } from 'drizzle-orm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { Pool } from 'pg';
import * as schema from './schema';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** Where a repository reads: the database, or a change's transaction (to see its own writes, or lock). */
export type Reads = Pick<Tx, 'select'>;

/** Versioned SQL written by drizzle-kit; the same files run on PGlite and on a server. */
const MIGRATIONS_FOLDER = join(__dirname, '..', '..', 'migrations');

/**
 * Server connections kept open while idle, and opened at boot. pg closes idle connections after
 * 10 s, so an admin's first write after a quiet moment opened a new one and ran its statements on
 * a cold backend: a p50 of ~80 ms, ~30 with warm connections (bench/README, "Warm connections").
 */
export const WARM_CONNECTIONS = 4;

/**
 * The one connection to the system of record: a PostgreSQL server when DATABASE_URL is set,
 * otherwise PGlite (real Postgres compiled to WASM) in `dataDir`, so `npm start` needs no setup.
 */
export class Database {
  private constructor(
    readonly db: Db,
    readonly kind: 'postgres' | 'pglite',
    private readonly close: () => Promise<void>,
    /** The embedded database itself (PGlite only), for what drizzle cannot express: the in-process auth record indexer's SQL. */
    readonly pglite: PGlite | null = null,
  ) {}

  static async open(options: { url?: string; dataDir: string }): Promise<Database> {
    if (options.url) {
      const pool = new Pool({ connectionString: options.url, max: 10, min: WARM_CONNECTIONS });
      // An idle connection the server closes (restart, failover, admin termination) must not crash
      // the process: the pool drops it and the next query opens a new one.
      pool.on('error', (err) => process.emitWarning(`PostgreSQL connection lost: ${err.message}`));
      const db = drizzlePg(pool, { schema }) as unknown as Db;
      await migratePg(db as never, { migrationsFolder: MIGRATIONS_FOLDER });
      const warm = await Promise.all(Array.from({ length: WARM_CONNECTIONS }, () => pool.connect()));
      for (const client of warm) client.release();
      return new Database(db, 'postgres', () => pool.end());
    }
    mkdirSync(options.dataDir, { recursive: true });
    const client = new PGlite(options.dataDir);
    const db = drizzlePglite(client, { schema }) as unknown as Db;
    await migratePglite(db as never, { migrationsFolder: MIGRATIONS_FOLDER });
    return new Database(db, 'pglite', () => client.close(), client);
  }

  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  async ping(): Promise<void> {
    await this.db.execute(sql`select 1`);
  }

  shutdown(): Promise<void> {
    return this.close();
  }
}
