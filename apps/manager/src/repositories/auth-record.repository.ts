import { Injectable } from '@nestjs/common';
import type { AuthAnalyticsQuery, ReadFilter } from '@idm/domain';
import { and, eq, or, sql, type SQL } from 'drizzle-orm';
import type { AuthRecordReads, AuthRecordRows } from '../analytics/auth-record-reads';
import type { AuthRecordScope } from '../analytics/auth-record-visibility';
import { Database } from '../database/database';
import { apiProxies, credentials } from '../database/schema';

/** The window and filters of one analytics question, resolved (dates, bucket size) by the service. */
export interface AuthRecordWindow {
  from: Date;
  to: Date;
  bucketMs: number;
  filter: Omit<AuthAnalyticsQuery, 'from' | 'to' | 'bucket' | 'top'>;
  top: number;
}

type Row = Record<string, unknown>;

/**
 * Reads the auth records the indexers write to PostgreSQL (`auth_records`, partitioned by day;
 * the indexer owns its schema, see libs/auth-record-indexing). The reader's scope is pushed into
 * SQL: records of the projects it may read, and of its teams' proxies and credentials. Before any
 * indexer ran the table does not exist and every answer is empty.
 */
@Injectable()
export class AuthRecordRepository implements AuthRecordReads {
  readonly source = 'postgresql';

  constructor(private readonly database: Database) {}

  async exists(): Promise<boolean> {
    const rows = await this.rows(sql`SELECT to_regclass('public.auth_records') IS NOT NULL AS present`);
    return rows[0]?.present === true;
  }

  /** The proxies and credentials of these teams: what a team-scoped reader's records are found by. */
  async teamResources(teams: ReadFilter['teams']): Promise<{ proxyIds: string[]; credentialIds: string[] }> {
    const of = <T extends typeof apiProxies | typeof credentials>(table: T) => or(...teams.map((t) => and(eq(table.projectId, t.projectId), eq(table.teamId, t.id))));
    const [proxies, creds] = await Promise.all([
      this.database.db.select({ id: apiProxies.id }).from(apiProxies).where(of(apiProxies)),
      this.database.db.select({ id: credentials.id }).from(credentials).where(of(credentials)),
    ]);
    return { proxyIds: proxies.map((p) => p.id), credentialIds: creds.map((c) => c.id) };
  }

  async analytics(scope: AuthRecordScope, w: AuthRecordWindow): Promise<AuthRecordRows> {
    const where = this.where(scope, w);
    const failing = sql`${where} AND outcome <> 'success'`;
    const ranked = (columns: SQL, condition: SQL) =>
      sql`SELECT ${columns}, count(*)::int AS count FROM auth_records WHERE ${condition} GROUP BY ${columns} ORDER BY count DESC LIMIT ${w.top}`;
    const [series, byOutcome, byReason, byCredential, byProxy, byIssuer, topCredentials, topAddresses, spend] = await Promise.all([
      this.rows(sql`
        SELECT date_bin(${`${w.bucketMs} milliseconds`}::interval, time, ${w.from.toISOString()}::timestamptz) AS start, outcome, count(*)::int AS count
        FROM auth_records WHERE ${where} GROUP BY 1, 2 ORDER BY 1`),
      this.rows(sql`SELECT outcome, count(*)::int AS count FROM auth_records WHERE ${where} GROUP BY outcome ORDER BY count DESC`),
      this.rows(ranked(sql`reason`, where)),
      this.rows(ranked(sql`credential_id, username`, sql`${where} AND (credential_id IS NOT NULL OR username IS NOT NULL)`)),
      this.rows(ranked(sql`proxy_id, proxy_name`, where)),
      this.rows(ranked(sql`issuer`, sql`${where} AND issuer IS NOT NULL`)),
      this.rows(ranked(sql`credential_id, username`, sql`${failing} AND (credential_id IS NOT NULL OR username IS NOT NULL)`)),
      this.rows(ranked(sql`client_ip`, failing)),
      this.rows(sql`
        SELECT credential_id, username, sum(llm_total_tokens)::bigint AS total FROM auth_records WHERE ${where} AND llm_total_tokens IS NOT NULL
        GROUP BY credential_id, username ORDER BY total DESC LIMIT ${w.top}`),
    ]);
    return { series, byOutcome, byReason, byCredential, byProxy, byIssuer, topCredentials, topAddresses, spend };
  }

  private where(scope: AuthRecordScope, w: AuthRecordWindow): SQL {
    const f = w.filter;
    const conditions: SQL[] = [sql`time >= ${w.from.toISOString()}::timestamptz`, sql`time < ${w.to.toISOString()}::timestamptz`];
    // One array parameter per list: a team of thousands of credentials stays one bind parameter.
    if (!scope.all)
      conditions.push(
        sql`(project_id = ANY(${sql.param(scope.projectIds)}::text[]) OR proxy_id = ANY(${sql.param(scope.proxyIds)}::text[]) OR credential_id = ANY(${sql.param(scope.credentialIds)}::text[]))`,
      );
    if (f.environment !== undefined) conditions.push(sql`environment = ${f.environment}`);
    if (f.projectId !== undefined) conditions.push(sql`project_id = ${f.projectId}`);
    if (f.proxyId !== undefined) conditions.push(sql`proxy_id = ${f.proxyId}`);
    if (f.credentialId !== undefined) conditions.push(sql`credential_id = ${f.credentialId}`);
    if (f.policy !== undefined) conditions.push(sql`policy = ${f.policy}`);
    if (f.clientId !== undefined) conditions.push(sql`client_id = ${f.clientId}`);
    if (f.outcome !== undefined) conditions.push(sql`outcome = ${f.outcome}`);
    return sql.join(conditions, sql` AND `);
  }

  private async rows(query: SQL): Promise<Row[]> {
    const { rows } = (await this.database.db.execute(query)) as unknown as { rows: Row[] };
    return rows;
  }
}
