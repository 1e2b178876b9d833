import { Client } from '@elastic/elasticsearch';
import Mock from '@elastic/elasticsearch-mock';
import { ElasticsearchAuthRecords } from './elasticsearch-auth-records';
import type { AuthRecordWindow } from './auth-record-reads';

/**
 * The analytics read from Elasticsearch (ELASTICSEARCH_URL) against @elastic/elasticsearch-mock
 * (Elasticsearch cannot run on these machines): the exact `_search` body — window, the reader's
 * scope, filters and every aggregation — and how its buckets become the analytics rows.
 */
describe('ElasticsearchAuthRecords', () => {
  const window: AuthRecordWindow = {
    from: new Date('2026-12-01T10:30:00.000Z'),
    to: new Date('2026-12-01T12:30:00.000Z'),
    bucketMs: 3_600_000,
    filter: { environment: 'prod', outcome: 'denied' },
    top: 5,
  };
  let mock: Mock;
  let bodies: unknown[];
  let reads: ElasticsearchAuthRecords;

  beforeEach(() => {
    mock = new Mock();
    bodies = [];
    reads = new ElasticsearchAuthRecords(new Client({ node: 'http://es.test:9200', Connection: mock.getConnection(), maxRetries: 0 }));
  });

  const answering = (aggregations: unknown) =>
    mock.add({ method: ['GET', 'POST'], path: '/analytic-auth-record/_search' }, (params) => {
      bodies.push(params.body);
      return { took: 1, timed_out: false, hits: { total: { value: 3, relation: 'eq' }, hits: [] }, aggregations };
    });

  const named = { bool: { should: [{ exists: { field: 'credential_id' } }, { exists: { field: 'username' } }], minimum_should_match: 1 } };
  const refused = { bool: { must_not: [{ term: { outcome: 'success' } }] } };
  const byName = (fields: string[]) => ({ multi_terms: { terms: fields.map((field) => ({ field, missing: '' })), size: 5 } });

  it("sends one search: the window, the team reader's scope, the filters and the aggregations", async () => {
    answering({});
    await reads.analytics({ all: false, projectIds: ['proj-1'], proxyIds: ['team-proxy'], credentialIds: ['team-cred'] }, window);
    expect(bodies).toEqual([
      {
        size: 0,
        track_total_hits: true,
        query: {
          bool: {
            filter: [
              { range: { '@timestamp': { gte: '2026-12-01T10:30:00.000Z', lt: '2026-12-01T12:30:00.000Z' } } },
              {
                bool: {
                  should: [{ terms: { project_id: ['proj-1'] } }, { terms: { proxy_id: ['team-proxy'] } }, { terms: { credential_id: ['team-cred'] } }],
                  minimum_should_match: 1,
                },
              },
              { term: { environment: 'prod' } },
              { term: { outcome: 'denied' } },
            ],
          },
        },
        aggs: {
          // Hour buckets starting at 10:30, as PostgreSQL's date_bin from `from`.
          series: {
            date_histogram: { field: '@timestamp', fixed_interval: '3600000ms', offset: '1800000ms', min_doc_count: 1 },
            aggs: { by_outcome: { terms: { field: 'outcome', size: 4 } } },
          },
          by_outcome: { terms: { field: 'outcome', size: 4 } },
          by_reason: { terms: { field: 'reason', missing: '', size: 5 } },
          by_credential: { filter: named, aggs: { ranked: byName(['credential_id', 'username']) } },
          by_proxy: byName(['proxy_id', 'proxy_name']),
          by_issuer: { terms: { field: 'issuer', size: 5 } },
          top_failing_credentials: { filter: { bool: { filter: [named, refused] } }, aggs: { ranked: byName(['credential_id', 'username']) } },
          top_failing_addresses: { filter: refused, aggs: { ranked: { terms: { field: 'client_ip', size: 5 } } } },
          spend: {
            filter: { exists: { field: 'llm.total_tokens' } },
            aggs: {
              ranked: { multi_terms: { ...byName(['credential_id', 'username']).multi_terms, order: { total: 'desc' } }, aggs: { total: { sum: { field: 'llm.total_tokens' } } } },
            },
          },
        },
      },
    ]);
  });

  it('puts no scope clause for a system reader', async () => {
    answering({});
    await reads.analytics({ all: true, projectIds: [], proxyIds: [], credentialIds: [] }, { ...window, filter: {} });
    expect((bodies[0] as { query: unknown }).query).toEqual({
      bool: { filter: [{ range: { '@timestamp': { gte: '2026-12-01T10:30:00.000Z', lt: '2026-12-01T12:30:00.000Z' } } }] },
    });
  });

  it('turns the buckets into the rows the analytics answer is built from (the stand-in for null read back as null)', async () => {
    const t = Date.parse('2026-12-01T10:30:00.000Z');
    answering({
      series: {
        buckets: [
          {
            key: t,
            doc_count: 3,
            by_outcome: {
              buckets: [
                { key: 'denied', doc_count: 2 },
                { key: 'success', doc_count: 1 },
              ],
            },
          },
        ],
      },
      by_outcome: {
        buckets: [
          { key: 'denied', doc_count: 2 },
          { key: 'success', doc_count: 1 },
        ],
      },
      by_reason: {
        buckets: [
          { key: 'invalid_api_key', doc_count: 2 },
          { key: '', doc_count: 1 },
        ],
      },
      by_credential: {
        doc_count: 2,
        ranked: {
          buckets: [
            { key: ['c1', 'alice'], doc_count: 1 },
            { key: ['', 'mallory'], doc_count: 1 },
          ],
        },
      },
      by_proxy: { buckets: [{ key: ['p1', 'orders'], doc_count: 3 }] },
      by_issuer: { buckets: [] },
      top_failing_credentials: { doc_count: 1, ranked: { buckets: [{ key: ['', 'mallory'], doc_count: 1 }] } },
      top_failing_addresses: { doc_count: 2, ranked: { buckets: [{ key: '203.0.113.9', doc_count: 2 }] } },
      spend: { doc_count: 1, ranked: { buckets: [{ key: ['c1', 'alice'], doc_count: 1, total: { value: 420 } }] } },
    });
    expect(await reads.analytics({ all: true, projectIds: [], proxyIds: [], credentialIds: [] }, window)).toEqual({
      series: [
        { start: new Date(t), outcome: 'denied', count: 2 },
        { start: new Date(t), outcome: 'success', count: 1 },
      ],
      byOutcome: [
        { outcome: 'denied', count: 2 },
        { outcome: 'success', count: 1 },
      ],
      byReason: [
        { reason: 'invalid_api_key', count: 2 },
        { reason: null, count: 1 },
      ],
      byCredential: [
        { credential_id: 'c1', username: 'alice', count: 1 },
        { credential_id: null, username: 'mallory', count: 1 },
      ],
      byProxy: [{ proxy_id: 'p1', proxy_name: 'orders', count: 3 }],
      byIssuer: [],
      topCredentials: [{ credential_id: null, username: 'mallory', count: 1 }],
      topAddresses: [{ client_ip: '203.0.113.9', count: 2 }],
      spend: [{ credential_id: 'c1', username: 'alice', total: 420 }],
    });
  });

  it('answers empty when the data stream does not exist yet (no indexer ran)', async () => {
    answering(undefined);
    const rows = await reads.analytics({ all: true, projectIds: [], proxyIds: [], credentialIds: [] }, window);
    expect(Object.values(rows).every((r) => Array.isArray(r) && r.length === 0)).toBe(true);
  });

  it('filters by the deciding policy and the OAuth client with term queries', async () => {
    answering({});
    const filtered: AuthRecordWindow = { ...window, filter: { environment: 'prod', policy: 'token-endpoint:/credential/token', clientId: 'billing-app' } };
    await reads.analytics({ all: true, projectIds: [], proxyIds: [], credentialIds: [] }, filtered);
    expect((bodies[0] as { query: unknown }).query).toEqual({
      bool: {
        filter: [
          { range: { '@timestamp': { gte: '2026-12-01T10:30:00.000Z', lt: '2026-12-01T12:30:00.000Z' } } },
          { term: { environment: 'prod' } },
          { term: { policy: 'token-endpoint:/credential/token' } },
          { term: { client_id: 'billing-app' } },
        ],
      },
    });
  });
});
