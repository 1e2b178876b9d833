import { Pool } from 'pg';

export interface SqlSession {
  query<Row extends Record<string, unknown> = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: Row[] }>;
}

/**
 * The PostgreSQL the sink writes to: a server through a `pg` pool (the indexer app), or the
 * Manager's embedded PGlite, which only the Manager's process can open (it hosts the consumer then).
 */
export interface SqlClient extends SqlSession {
  /** `work` on one connection inside BEGIN … COMMIT (rolled back when it throws). */
  transaction(work: (session: SqlSession) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

/** A PostgreSQL server. */
export function poolClient(url: string, applicationName: string): SqlClient {
  const pool = new Pool({ connectionString: url, max: 4, application_name: applicationName });
  pool.on('error', () => undefined); // an idle client's broken connection; the next query reconnects
  return {
    query: (text, params) => pool.query(text, params) as never,
    async transaction(work) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await work({ query: (text, params) => client.query(text, params) as never });
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
