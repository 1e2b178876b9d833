import type { SqlSourceConfig } from '@idm/domain';
import type mssql from 'mssql';
import mysql from 'mysql2/promise';
import type oracledb from 'oracledb';
import pg from 'pg';
import { SourceUnavailableError, withinTimeout } from './identity-check';
import { bindUsername } from './sql-dialects';

export type SqlRow = Record<string, unknown>;

// Loaded on first use: together ~0.3 s and ~15 MB of heap that every Gateway and Manager would
// otherwise pay at start-up for drivers most installations never use.
const loadMssql = () => import('mssql').then((m) => m.default);
const loadOracle = () => import('oracledb').then((m) => m.default);

/**
 * A small connection pool to a source's database, one per driver, behind one call: run a query
 * with the username bound (never spliced, see sql-dialects.ts). Every step is bounded by the
 * source's timeout (connect, query, and the whole call), and any driver failure becomes
 * `source_unavailable` (`source_timeout` when the clock ran out), naming the server, never a
 * bound value or the password.
 *
 * PostgreSQL (pg) and MySQL/MariaDB (mysql2) are tested against real servers; MSSQL (mssql over
 * tedious) and Oracle (oracledb in thin mode: no Oracle client libraries) go through the same
 * code path but only their placeholder translation and failure handling are tested here.
 */
export class SqlConnection {
  private readonly pool: OpenPool;

  constructor(
    private readonly config: SqlSourceConfig,
    secret: string | null,
    private readonly timeoutMs: number,
  ) {
    this.pool = openPool(config, secret, timeoutMs);
  }

  async query(query: string, username: string): Promise<SqlRow[]> {
    try {
      return await withinTimeout('SQL query', this.timeoutMs, this.pool.run(query, username));
    } catch (err) {
      if (err instanceof SourceUnavailableError) throw err;
      const c = this.config;
      throw new SourceUnavailableError('source_unavailable', `SQL ${c.driver}://${c.host}:${c.port}/${c.database}: ${describe(err)}`);
    }
  }

  close(): Promise<void> {
    return this.pool.close().catch(() => undefined);
  }
}

interface OpenPool {
  run(query: string, username: string): Promise<SqlRow[]>;
  close(): Promise<void>;
}

function openPool(config: SqlSourceConfig, secret: string | null, timeoutMs: number): OpenPool {
  const password = secret ?? undefined;
  const ca = config.tls?.caPem;
  switch (config.driver) {
    case 'postgres': {
      const ssl = config.tls ? { ...(ca ? { ca } : {}), rejectUnauthorized: true } : undefined;
      const pool = new pg.Pool({
        host: config.host,
        port: config.port,
        database: config.database,
        user: config.user,
        password,
        ssl,
        max: 4,
        connectionTimeoutMillis: timeoutMs,
        query_timeout: timeoutMs,
        statement_timeout: timeoutMs,
        idleTimeoutMillis: 30_000,
      });
      pool.on('error', () => undefined); // an idle connection's death is noticed by the next query
      return {
        run: async (query, username) => {
          const bound = bindUsername(query, 'postgres', username);
          return (await pool.query<SqlRow>(bound.text, bound.values as unknown[])).rows;
        },
        close: () => pool.end(),
      };
    }
    case 'mysql': {
      const ssl = config.tls ? { ...(ca ? { ca } : {}), rejectUnauthorized: true } : undefined;
      const pool = mysql.createPool({
        host: config.host,
        port: config.port,
        database: config.database,
        user: config.user,
        password,
        ssl,
        connectionLimit: 4,
        connectTimeout: timeoutMs,
        waitForConnections: true,
        queueLimit: 100,
      });
      return {
        run: async (query, username) => {
          const bound = bindUsername(query, 'mysql', username);
          const [rows] = await pool.execute({ sql: bound.text, timeout: timeoutMs }, bound.values as string[]);
          return rows as SqlRow[];
        },
        close: () => pool.end(),
      };
    }
    case 'mssql':
      return mssqlPool(config, password, timeoutMs);
    case 'oracle':
      return oraclePool(config, password, timeoutMs);
  }
}

/** MSSQL through `mssql` (tedious): TLS when `tls` is set (the CA pinned when given), else unencrypted as the server allows. */
function mssqlPool(config: SqlSourceConfig, password: string | undefined, timeoutMs: number): OpenPool {
  const settings: mssql.config = {
    server: config.host,
    port: config.port,
    database: config.database,
    user: config.user,
    password,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    pool: { max: 4, min: 0, idleTimeoutMillis: 30_000 },
    options: {
      encrypt: config.tls !== undefined,
      trustServerCertificate: false,
      ...(config.tls?.caPem ? { cryptoCredentialsDetails: { ca: config.tls.caPem } } : {}),
    },
  };
  // Connected once, shared by every query. A pool whose connect failed stays failed, so the next
  // query starts a new one: a server that comes back is found again.
  let connected: Promise<mssql.ConnectionPool> | null = null;
  const connect = () => {
    connected ??= (async () => {
      const pool = new (await loadMssql()).ConnectionPool(settings);
      pool.on('error', () => undefined); // the next query reports it
      try {
        return await pool.connect();
      } catch (err) {
        connected = null;
        await pool.close().catch(() => undefined);
        throw err;
      }
    })();
    return connected;
  };
  return {
    run: async (query, username) => {
      const bound = bindUsername(query, 'mssql', username);
      const request = (await connect()).request();
      request.input('username', (await loadMssql()).NVarChar(256), (bound.values as Record<string, string>).username);
      const result = await request.query<SqlRow>(bound.text);
      return result.recordset ?? [];
    },
    close: async () => {
      if (connected) await (await connected.catch(() => null))?.close();
    },
  };
}

/**
 * Oracle through `oracledb` in thin mode (pure JavaScript, no Instant Client): `database` is the
 * service name; with `tls` the connection is tcps and the CA bundle is the wallet content.
 * Column names come back as Oracle folds them (upper case unless quoted); the caller matches
 * columns without regard to case.
 */
function oraclePool(config: SqlSourceConfig, password: string | undefined, timeoutMs: number): OpenPool {
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  // Easy Connect: host:port/service (plain TCP takes no protocol prefix; tcps:// does).
  let pool: Promise<oracledb.Pool> | null = null;
  const open = () => {
    pool ??= loadOracle()
      .then((driver) =>
        driver.createPool({
          user: config.user,
          password,
          connectString: `${config.tls ? 'tcps://' : ''}${host}:${config.port}/${config.database}`,
          connectTimeout: seconds,
          transportConnectTimeout: seconds,
          poolMin: 0,
          poolMax: 4,
          poolTimeout: 30,
          queueTimeout: timeoutMs,
          ...(config.tls?.caPem ? { walletContent: config.tls.caPem } : {}),
        } as oracledb.PoolAttributes),
      )
      .catch((err: unknown) => {
        pool = null;
        throw err;
      });
    return pool;
  };
  return {
    run: async (query, username) => {
      const bound = bindUsername(query, 'oracle', username);
      const driver = await loadOracle();
      const connection = await (await open()).getConnection();
      try {
        connection.callTimeout = timeoutMs;
        const result = await connection.execute<SqlRow>(bound.text, bound.values as Record<string, string>, {
          outFormat: driver.OUT_FORMAT_OBJECT,
          fetchTypeHandler: (meta) => (meta.dbType === driver.DB_TYPE_CLOB ? { type: driver.STRING } : undefined),
          maxRows: 2,
        });
        return result.rows ?? [];
      } finally {
        await connection.close().catch(() => undefined);
      }
    },
    close: async () => {
      if (pool) await (await pool.catch(() => null))?.close(0);
    },
  };
}

function describe(err: unknown): string {
  // Driver messages name hosts and SQL states, never bound values or the password.
  return err instanceof Error ? err.message : String(err);
}
