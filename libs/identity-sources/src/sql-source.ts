import type { SqlSourceConfig } from '@idm/domain';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { acceptableCredentials, SourceUnavailableError, withinTimeout, type IdentityChecker, type SourceAnswer } from './identity-check';
import { passwordMatches } from './sql-password';

type Row = Record<string, unknown>;

/** The admin's `:username` becomes the driver's placeholder; the value always travels as a bound parameter. */
export function boundQuery(query: string, driver: SqlSourceConfig['driver']): string {
  return query.replace(/(?<!:):username\b/g, driver === 'postgres' ? '$1' : '?');
}

/**
 * Checks a password against a user table in PostgreSQL (pg) or MySQL/MariaDB (mysql2) through a
 * small connection pool, with the admin-written query and the username as its only, bound,
 * parameter. The query must return at most one row; none is an unknown user (a rejection),
 * several mean the query is wrong (the source is misconfigured, nobody is let in).
 */
export class SqlSource implements IdentityChecker {
  private readonly run: (username: string) => Promise<Row[]>;
  private readonly closePool: () => Promise<void>;

  constructor(
    private readonly config: SqlSourceConfig,
    secret: string | null,
    private readonly timeoutMs: number,
  ) {
    const sql = boundQuery(config.query, config.driver);
    const ssl = config.tls ? { ...(config.tls.caPem ? { ca: config.tls.caPem } : {}), rejectUnauthorized: true } : undefined;
    const common = { host: config.host, port: config.port, database: config.database, user: config.user, password: secret ?? undefined };
    if (config.driver === 'postgres') {
      const pool = new pg.Pool({ ...common, ssl, max: 4, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, statement_timeout: timeoutMs, idleTimeoutMillis: 30_000 });
      pool.on('error', () => undefined); // an idle connection's death is noticed by the next query
      this.run = async (username) => (await pool.query<Row>(sql, [username])).rows;
      this.closePool = () => pool.end();
    } else {
      const pool = mysql.createPool({ ...common, ssl, connectionLimit: 4, connectTimeout: timeoutMs, waitForConnections: true, queueLimit: 100 });
      this.run = async (username) => {
        const [rows] = await pool.execute({ sql, timeout: timeoutMs }, [username]);
        return rows as Row[];
      };
      this.closePool = () => pool.end();
    }
  }

  async check(username: string, password: string): Promise<SourceAnswer> {
    if (!acceptableCredentials(username, password)) return { outcome: 'rejected' };
    let rows: Row[];
    try {
      rows = await withinTimeout('SQL query', this.timeoutMs, this.run(username));
    } catch (err) {
      if (err instanceof SourceUnavailableError) throw err;
      throw new SourceUnavailableError('source_unavailable', `SQL ${this.config.driver}://${this.config.host}:${this.config.port}/${this.config.database}: ${describe(err)}`);
    }
    if (rows.length === 0) return { outcome: 'rejected' };
    if (rows.length > 1) throw new SourceUnavailableError('source_misconfigured', 'the SQL query returned more than one row for a username');
    const row = rows[0]!;
    const c = this.config.columns;
    const stored = text(row[c.password]);
    if (stored === null) throw new SourceUnavailableError('source_misconfigured', `the SQL query returned no column ${c.password}`);
    const ok = await passwordMatches(this.config.passwordFormat, stored, password, text(row[c.salt]), this.config.saltPosition);
    if (!ok) return { outcome: 'rejected' };
    return { outcome: 'verified', identity: { username, email: text(row[c.email]), displayName: text(row[c.displayName]), groups: groupsOf(row[c.groups]) } };
  }

  close(): Promise<void> {
    return this.closePool().catch(() => undefined);
  }
}

function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'object' ? JSON.stringify(value) : String(value as string | number | boolean | bigint);
}

/** An array column, a JSON array (MySQL has no arrays) or a comma-separated string. */
function groupsOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  const s = text(value)?.trim();
  if (!s) return [];
  if (s.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(s);
      if (Array.isArray(parsed)) return parsed.map(String);
    } catch {
      // not JSON: a comma-separated list that happens to start with "["
    }
  }
  return s
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);
}

function describe(err: unknown): string {
  // Driver messages name hosts and SQL states, never bound values or the password.
  return err instanceof Error ? err.message : String(err);
}
