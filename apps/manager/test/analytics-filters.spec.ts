import { randomUUID } from 'node:crypto';
import { PostgresSink, poolClient, type SqlClient } from '@idm/auth-record-indexing';
import type { AuthRecord } from '@idm/config-bus';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * /api/v1/analytics/auth filtered by the deciding policy and by the OAuth client, on a real
 * PostgreSQL written by the indexers' sink: only the matching records are counted. A table made
 * before `client_id` existed gets the column when a sink starts; a record from a Gateway that
 * knows no client id is stored with none.
 */
describe('auth analytics filtered by policy and client (PostgreSQL)', () => {
  const ENV = `filters-${randomUUID().slice(0, 8)}`;
  let database: TestDatabase;
  let sql: SqlClient;
  let m: InProcessManager;

  const record = (policy: string, clientId: string | undefined, outcome: AuthRecord['outcome']): AuthRecord => ({
    id: randomUUID(),
    time: Date.now() - 60_000,
    environment: ENV,
    gatewayId: 'gw-1',
    proxyId: null,
    proxyName: null,
    projectId: null,
    policy,
    outcome,
    reason: outcome === 'success' ? null : 'invalid_client',
    status: outcome === 'success' ? 200 : 401,
    credentialId: null,
    username: null,
    keyPrefix: null,
    ...(clientId !== undefined && { clientId }),
    issuer: null,
    tokenType: null,
    clientIp: '203.0.113.7',
    country: null,
    userAgent: null,
    requestId: randomUUID(),
    latencyMs: 1,
    llm: null,
  });
  const counts = async (query: string) => {
    const answer = await m.request('GET', `/api/v1/analytics/auth?environment=${ENV}${query}`);
    expect(answer.status).toBe(200);
    return { total: answer.body.total as number, byOutcome: Object.fromEntries((answer.body.byOutcome as { outcome: string; count: number }[]).map((o) => [o.outcome, o.count])) };
  };

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    sql = poolClient(database.url!, 'analytics-filters-spec');
    m = await startInProcessManager(database);
    // A table of an earlier release, without the column: the next sink to start adds it.
    const earlier = new PostgresSink(sql, 7);
    await earlier.prepare();
    await sql.query('ALTER TABLE auth_records DROP COLUMN client_id');
    const sink = new PostgresSink(sql, 7);
    await sink.prepare();
    await sink.write([
      record('token-endpoint:/credential/token', 'svc-a', 'success'),
      record('token-endpoint:/credential/token', 'svc-b', 'denied'),
      record('token-endpoint:/credential/token', 'svc-b', 'denied'),
      record('oauth2-auth', 'svc-a', 'success'),
      record('api-key', undefined, 'denied'),
    ]);
  }, 120_000);

  afterAll(async () => {
    await m?.close();
    await sql?.close();
    await database?.drop();
  });

  it('counts only the records of the policy and of the client asked for', async () => {
    expect(await counts('')).toEqual({ total: 5, byOutcome: { denied: 3, success: 2 } });
    expect(await counts(`&policy=${encodeURIComponent('token-endpoint:/credential/token')}`)).toEqual({ total: 3, byOutcome: { denied: 2, success: 1 } });
    expect(await counts('&policy=api-key')).toEqual({ total: 1, byOutcome: { denied: 1 } });
    expect(await counts('&clientId=svc-a')).toEqual({ total: 2, byOutcome: { success: 2 } });
    expect(await counts('&clientId=svc-b')).toEqual({ total: 2, byOutcome: { denied: 2 } });
    expect(await counts('&clientId=svc-a&policy=oauth2-auth')).toEqual({ total: 1, byOutcome: { success: 1 } });
    expect(await counts('&clientId=nobody')).toEqual({ total: 0, byOutcome: {} });
    const { rows } = await sql.query<{ client_id: string | null }>('SELECT client_id FROM auth_records WHERE policy = $1', ['api-key']);
    expect(rows).toEqual([{ client_id: null }]);
  });

  it('refuses an empty or overlong filter with a reason code', async () => {
    for (const bad of ['policy=', `policy=${'p'.repeat(101)}`, 'clientId=', `clientId=${'c'.repeat(257)}`]) {
      const answer = await m.request('GET', `/api/v1/analytics/auth?${bad}`);
      expect([answer.status, answer.body.code]).toEqual([400, 'validation_failed']);
    }
  });
});
