import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { AUTH_RECORD_DATA_STREAM, elasticsearchClient, ElasticsearchSink } from '@idm/auth-record-indexing';
import type { AuthRecord } from '@idm/config-bus';
import { eventually } from '@idm/test-kit';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * With ELASTICSEARCH_URL set, /api/v1/analytics/auth reads Elasticsearch (where the indexers then
 * write), not the database: through the real client over HTTP to a stand-in that answers as
 * Elasticsearch does (its product header, an aggregation answer); unreachable, a 503 problem.
 * The exact query bodies are asserted in src/analytics/elasticsearch-auth-records.spec.ts.
 */
describe('analytics on Elasticsearch', () => {
  let database: TestDatabase;
  let server: Server;
  let m: InProcessManager;
  const searches: { path: string; body: any }[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('pglite');
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        searches.push({ path: req.url ?? '', body: body ? JSON.parse(body) : undefined });
        res.writeHead(200, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
        res.end(
          JSON.stringify({
            took: 1,
            timed_out: false,
            hits: { total: { value: 5, relation: 'eq' }, hits: [] },
            aggregations: {
              by_outcome: {
                buckets: [
                  { key: 'denied', doc_count: 3 },
                  { key: 'success', doc_count: 2 },
                ],
              },
              by_proxy: { buckets: [{ key: ['p1', 'orders'], doc_count: 5 }] },
              top_failing_addresses: { doc_count: 3, ranked: { buckets: [{ key: '203.0.113.9', doc_count: 3 }] } },
            },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    m = await startInProcessManager(database, { ELASTICSEARCH_URL: `http://127.0.0.1:${(server.address() as { port: number }).port}` });
  }, 300_000);

  afterAll(async () => {
    await m?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await database?.drop();
  }, 120_000);

  it('answers from the aggregations of one search of the data stream', async () => {
    const res = await m.request('GET', '/api/v1/analytics/auth?environment=prod');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      source: 'elasticsearch',
      total: 5,
      byOutcome: [
        { outcome: 'denied', count: 3 },
        { outcome: 'success', count: 2 },
      ],
      byProxy: [{ proxyId: 'p1', proxyName: 'orders', count: 5 }],
      topFailingAddresses: [{ clientIp: '203.0.113.9', count: 3 }],
    });
    expect(searches).toHaveLength(1);
    expect(searches[0].path).toMatch(/^\/analytic-auth-record\/_search\?/);
    expect(searches[0].body.query.bool.filter).toContainEqual({ term: { environment: 'prod' } });
  });

  it('answers 503 analytics_unavailable when Elasticsearch does not answer', async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    const res = await m.request('GET', '/api/v1/analytics/auth');
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: 'analytics_unavailable' });
    expect(JSON.stringify(res.body)).not.toMatch(/ECONNREFUSED|stack/);
  });
});

/**
 * Against a real cluster, only where one is given (ELASTICSEARCH_URL, as for the sink's live
 * test): records written by the indexers' sink are what the Manager's analytics count.
 */
(process.env.ELASTICSEARCH_URL ? describe : describe.skip)('analytics on a live Elasticsearch', () => {
  const connection = {
    url: process.env.ELASTICSEARCH_URL!,
    apiKey: process.env.ELASTICSEARCH_API_KEY,
    username: process.env.ELASTICSEARCH_USERNAME,
    password: process.env.ELASTICSEARCH_PASSWORD,
  };
  const environment = `live-${randomUUID().slice(0, 8)}`;
  let database: TestDatabase;
  let m: InProcessManager;

  const record = (outcome: 'success' | 'denied', clientIp: string): AuthRecord => ({
    id: randomUUID(),
    time: Date.now() - 60_000,
    environment,
    gatewayId: 'gw-live',
    proxyId: 'p-live',
    proxyName: 'orders',
    projectId: 'proj-live',
    policy: 'api-key',
    outcome,
    reason: outcome === 'success' ? null : 'invalid_api_key',
    status: outcome === 'success' ? 200 : 401,
    credentialId: outcome === 'success' ? 'c-live' : null,
    username: outcome === 'success' ? 'client' : null,
    keyPrefix: 'idm_abcdefgh',
    issuer: null,
    tokenType: null,
    clientIp,
    country: null,
    userAgent: 'live-test',
    requestId: randomUUID(),
    latencyMs: 0.5,
    llm: null,
  });

  beforeAll(async () => {
    database = await createTestDatabase('pglite');
    const env: Record<string, string> = { ELASTICSEARCH_URL: connection.url };
    for (const [name, value] of Object.entries({
      ELASTICSEARCH_API_KEY: connection.apiKey,
      ELASTICSEARCH_USERNAME: connection.username,
      ELASTICSEARCH_PASSWORD: connection.password,
    }))
      if (value !== undefined) env[name] = value;
    m = await startInProcessManager(database, env);
  }, 300_000);

  afterAll(async () => {
    await m?.close();
    await database?.drop();
  }, 120_000);

  it('counts what the sink wrote, by outcome, proxy and failing address, for this environment only', async () => {
    const client = elasticsearchClient(connection);
    const sink = new ElasticsearchSink(client, { retentionDays: 1 });
    await sink.prepare();
    const records = [
      record('denied', '203.0.113.9'),
      record('denied', '203.0.113.9'),
      record('denied', '203.0.113.10'),
      record('success', '198.51.100.1'),
      record('success', '198.51.100.1'),
    ];
    await sink.write(records);
    await sink.write(records.slice(0, 2)); // redelivered: counted once
    await client.indices.refresh({ index: AUTH_RECORD_DATA_STREAM });
    await client.close();
    const answer = await eventually(
      async () => (await m.request('GET', `/api/v1/analytics/auth?environment=${environment}`)).body,
      (body) => body?.total === 5,
      { what: 'the live records in the analytics', timeoutMs: 30_000 },
    );
    expect(answer).toMatchObject({
      source: 'elasticsearch',
      total: 5,
      byOutcome: [
        { outcome: 'denied', count: 3 },
        { outcome: 'success', count: 2 },
      ],
      byProxy: [{ proxyId: 'p-live', proxyName: 'orders', count: 5 }],
      topFailingAddresses: [
        { clientIp: '203.0.113.9', count: 2 },
        { clientIp: '203.0.113.10', count: 1 },
      ],
    });
  }, 120_000);
});
