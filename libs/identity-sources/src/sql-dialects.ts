import type { SqlSourceConfig } from '@idm/domain';

export type SqlDriver = SqlSourceConfig['driver'];

/**
 * The admin's query with its one named parameter (`:username`) in the driver's own placeholder
 * syntax, and the values to bind. The text only ever changes where `:username` stands (a `::`
 * cast is not a parameter); the value never enters it, whatever it holds.
 *  - postgres (pg): `$1`, one value however often it appears;
 *  - mysql (mysql2): `?`, positional, so one value per occurrence;
 *  - mssql (tedious): `@username`, a declared input of type NVarChar;
 *  - oracle (oracledb thin): `:username`, Oracle's own named bind, so the text stays as written.
 */
export interface BoundQuery {
  text: string;
  /** Positional values (postgres, mysql) or named ones (mssql, oracle). */
  values: unknown[] | Record<string, string>;
}

const PARAMETER = /(?<!:):username\b/g;

export function bindUsername(query: string, driver: SqlDriver, username: string): BoundQuery {
  switch (driver) {
    case 'postgres':
      return { text: query.replace(PARAMETER, '$1'), values: [username] };
    case 'mysql': {
      const occurrences = query.match(PARAMETER)?.length ?? 0;
      return { text: query.replace(PARAMETER, '?'), values: Array.from({ length: occurrences }, () => username) };
    }
    case 'mssql':
      return { text: query.replace(PARAMETER, '@username'), values: { username } };
    case 'oracle':
      return { text: query, values: { username } };
  }
}

/** The query text as the driver receives it (what the tests and "test connection" detail show). */
export function boundQuery(query: string, driver: SqlDriver): string {
  return bindUsername(query, driver, '').text;
}
