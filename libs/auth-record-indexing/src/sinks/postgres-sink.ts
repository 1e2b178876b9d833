import type { AuthRecord } from '@idm/config-bus';
import type { AuthRecordSink } from '../auth-record-sink';
import type { SqlClient } from './sql-client';

export const AUTH_RECORDS_TABLE = 'auth_records';
const DAY_MS = 86_400_000;

/**
 * The table the Manager's analytics read (`AuthRecordRepository`): partitioned by day on `time`,
 * so retention drops whole partitions instead of deleting rows. The primary key includes the
 * partition key (PostgreSQL requires it); a record's id and time never change, so (time, id) is
 * as unique as the id and a redelivered record conflicts with itself. One statement per entry:
 * PGlite (the Manager's embedded database) takes one statement per parameterized query.
 */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS ${AUTH_RECORDS_TABLE} (
  id uuid NOT NULL,
  time timestamptz NOT NULL,
  environment text NOT NULL,
  gateway_id text NOT NULL,
  proxy_id text,
  proxy_name text,
  project_id text,
  policy text,
  outcome text NOT NULL,
  reason text,
  status smallint NOT NULL,
  credential_id text,
  username text,
  key_prefix text,
  client_id text,
  issuer text,
  token_type text,
  client_ip text NOT NULL,
  country text,
  user_agent text,
  request_id text NOT NULL,
  latency_ms real NOT NULL,
  llm_model text,
  llm_prompt_tokens integer,
  llm_completion_tokens integer,
  llm_total_tokens integer,
  llm_estimated boolean,
  PRIMARY KEY (time, id)
) PARTITION BY RANGE (time)`,
  // A table made before the column existed gets it (on every partition); a no-op once there.
  `ALTER TABLE ${AUTH_RECORDS_TABLE} ADD COLUMN IF NOT EXISTS client_id text`,
  // Indexes for the analytics' selective filters and a team reader's scope (credential, project,
  // proxy, client: few rows of a window). None on environment: installations have a handful, so
  // its filter reads the window from the day partitions and the primary key's leading `time`
  // anyway; tables made with one lose it. (Measured on a loaded machine: the btrees together cost
  // an insert 0–10 µs of PostgreSQL CPU, within the noise; parsing the batch as jsonb instead of
  // json cost 15–25 µs.)
  `DROP INDEX IF EXISTS auth_records_environment_time`,
  `CREATE INDEX IF NOT EXISTS auth_records_credential_time ON ${AUTH_RECORDS_TABLE} (credential_id, time) WHERE credential_id IS NOT NULL`,
  `CREATE INDEX IF NOT EXISTS auth_records_project_time ON ${AUTH_RECORDS_TABLE} (project_id, time)`,
  `CREATE INDEX IF NOT EXISTS auth_records_proxy_time ON ${AUTH_RECORDS_TABLE} (proxy_id, time) WHERE proxy_id IS NOT NULL`,
  `CREATE INDEX IF NOT EXISTS auth_records_client_time ON ${AUTH_RECORDS_TABLE} (client_id, time) WHERE client_id IS NOT NULL`,
];

/**
 * All records of a write go in one statement: one JSON parameter, expanded by json_to_recordset
 * (no bind-parameter limit). `json`, not `jsonb`: jsonb would first build a binary document of the
 * whole batch, which cost PostgreSQL ~2.7x the CPU per record; duplicate keys resolve the same way
 * in both (the last one counts, as in JSON.parse, which the consumer validated).
 */
const INSERT = `
INSERT INTO ${AUTH_RECORDS_TABLE} (id, time, environment, gateway_id, proxy_id, proxy_name, project_id, policy, outcome, reason, status, credential_id, username, key_prefix,
  client_id, issuer, token_type, client_ip, country, user_agent, request_id, latency_ms, llm_model, llm_prompt_tokens, llm_completion_tokens, llm_total_tokens, llm_estimated)
SELECT r.id, to_timestamp(r.time / 1000.0), r.environment, r."gatewayId", r."proxyId", r."proxyName", r."projectId", r.policy, r.outcome, r.reason, r.status, r."credentialId", r.username,
  r."keyPrefix", r."clientId", r.issuer, r."tokenType", r."clientIp", r.country, r."userAgent", r."requestId", r."latencyMs", r.llm->>'model', (r.llm->>'promptTokens')::int,
  (r.llm->>'completionTokens')::int, (r.llm->>'totalTokens')::int, (r.llm->>'estimated')::boolean
FROM json_to_recordset($1::json) AS r(id uuid, time bigint, environment text, "gatewayId" text, "proxyId" text, "proxyName" text, "projectId" text, policy text, outcome text, reason text,
  status smallint, "credentialId" text, username text, "keyPrefix" text, "clientId" text, issuer text, "tokenType" text, "clientIp" text, country text, "userAgent" text, "requestId" text,
  "latencyMs" real, llm json)
ON CONFLICT DO NOTHING`;

/** DDL of several indexers is serialized by this advisory lock (CREATE ... IF NOT EXISTS alone races). */
const DDL_LOCK = "pg_advisory_xact_lock(hashtext('idm:auth_records:ddl'))";

export function partitionName(day: number): string {
  return `${AUTH_RECORDS_TABLE}_p${new Date(day).toISOString().slice(0, 10).replace(/-/g, '')}`;
}

/** The PostgreSQL sink (a server, or the Manager's PGlite): the default when ELASTICSEARCH_URL is unset. */
export class PostgresSink implements AuthRecordSink {
  readonly name = 'postgresql';
  /** Days (UTC midnight, epoch ms) whose partition exists. */
  private readonly days = new Set<number>();

  constructor(
    private readonly sql: SqlClient,
    private readonly retentionDays: number,
  ) {}

  async prepare(): Promise<void> {
    await this.ddl(SCHEMA);
    const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
    await this.ensurePartitions([today, today + DAY_MS]);
  }

  async write(records: readonly AuthRecord[], json?: string): Promise<void> {
    if (records.length === 0) return;
    await this.ensurePartitions([...new Set(records.map((r) => Math.floor(r.time / DAY_MS) * DAY_MS))]);
    await this.sql.query(INSERT, [json ?? JSON.stringify(records)]);
  }

  async applyRetention(now: number): Promise<void> {
    const oldest = partitionName(Math.floor(now / DAY_MS) * DAY_MS - this.retentionDays * DAY_MS);
    const { rows } = await this.sql.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
       WHERE p.relname = $1 AND c.relname < $2 AND c.relname ~ '^${AUTH_RECORDS_TABLE}_p[0-9]{8}$'`,
      [AUTH_RECORDS_TABLE, oldest],
    );
    for (const { name } of rows) {
      await this.ddl([`DROP TABLE IF EXISTS ${name}`]);
      this.days.delete(Date.parse(`${name.slice(-8, -4)}-${name.slice(-4, -2)}-${name.slice(-2)}T00:00:00Z`));
    }
  }

  async close(): Promise<void> {
    await this.sql.close();
  }

  private async ensurePartitions(days: number[]): Promise<void> {
    const missing = days.filter((day) => !this.days.has(day));
    if (missing.length === 0) return;
    await this.ddl(
      missing.map((day) => {
        const from = new Date(day).toISOString();
        const to = new Date(day + DAY_MS).toISOString();
        return `CREATE TABLE IF NOT EXISTS ${partitionName(day)} PARTITION OF ${AUTH_RECORDS_TABLE} FOR VALUES FROM ('${from}') TO ('${to}')`;
      }),
    );
    for (const day of missing) this.days.add(day);
  }

  private async ddl(statements: readonly string[]): Promise<void> {
    await this.sql.transaction(async (session) => {
      await session.query(`SELECT ${DDL_LOCK}`);
      for (const statement of statements) await session.query(statement);
    });
  }
}
