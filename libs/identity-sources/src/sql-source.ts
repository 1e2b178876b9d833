import type { SqlSourceConfig } from '@idm/domain';
import { acceptableCredentials, SourceUnavailableError, type IdentityChecker, type SourceAnswer } from './identity-check';
import { SqlConnection, type SqlRow } from './sql-connection';
import { passwordMatches } from './sql-password';

export { boundQuery, bindUsername } from './sql-dialects';

/**
 * Checks a password against a user table in PostgreSQL, MySQL/MariaDB, MSSQL or Oracle through a
 * small connection pool (sql-connection.ts), with the admin-written query and the username as
 * its only, bound, parameter. The query must return at most one row; none is an unknown user (a
 * rejection), several mean the query is wrong (the source is misconfigured, nobody is let in).
 */
export class SqlSource implements IdentityChecker {
  private readonly connection: SqlConnection;

  constructor(
    private readonly config: SqlSourceConfig,
    secret: string | null,
    timeoutMs: number,
  ) {
    this.connection = new SqlConnection(config, secret, timeoutMs);
  }

  async check(username: string, password: string): Promise<SourceAnswer> {
    if (!acceptableCredentials(username, password)) return { outcome: 'rejected' };
    const rows = await this.connection.query(this.config.query, username);
    if (rows.length === 0) return { outcome: 'rejected' };
    if (rows.length > 1) throw new SourceUnavailableError('source_misconfigured', 'the SQL query returned more than one row for a username');
    const row = rows[0]!;
    const c = this.config.columns;
    const stored = text(cell(row, c.password));
    if (stored === null) throw new SourceUnavailableError('source_misconfigured', `the SQL query returned no column ${c.password}`);
    const ok = await passwordMatches(this.config.passwordFormat, stored, password, text(cell(row, c.salt)), this.config.saltPosition);
    if (!ok) return { outcome: 'rejected' };
    return { outcome: 'verified', identity: { username, email: text(cell(row, c.email)), displayName: text(cell(row, c.displayName)), groups: groupsOf(cell(row, c.groups)) } };
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}

/** A column by name as the query names it, or regardless of case (Oracle folds unquoted names to upper case). */
function cell(row: SqlRow, name: string): unknown {
  if (Object.hasOwn(row, name)) return row[name];
  const key = Object.keys(row).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : row[key];
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
