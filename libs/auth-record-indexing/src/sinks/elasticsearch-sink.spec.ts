import type { AuthRecord } from '@idm/config-bus';
import { Client, errors } from '@elastic/elasticsearch';
import Mock from '@elastic/elasticsearch-mock';
import { randomUUID } from 'node:crypto';
import { AUTH_RECORD_DATA_STREAM, documentOf, ElasticsearchSink } from './elasticsearch-sink';

/**
 * The Elasticsearch sink against @elastic/elasticsearch-mock (Elasticsearch cannot run on these
 * machines): the exact ILM policy, index template and bulk bodies it sends, and what it does with
 * 409 (already written), 429 (retried) and other item failures (the write fails).
 */
const record = (requestId: string): AuthRecord => ({
  id: randomUUID(),
  time: Date.UTC(2026, 11, 1, 12, 0, 0),
  environment: 'prod',
  gatewayId: 'gw-1',
  proxyId: 'p1',
  proxyName: 'orders',
  projectId: 'proj',
  policy: 'api-key',
  outcome: 'denied',
  reason: 'invalid_api_key',
  status: 401,
  credentialId: null,
  username: null,
  keyPrefix: 'idm_abcdefgh',
  clientId: 'billing-app',
  issuer: null,
  tokenType: null,
  clientIp: '203.0.113.9',
  country: null,
  userAgent: 'curl/8',
  requestId,
  latencyMs: 0.25,
  llm: null,
});

/** The NDJSON lines of a bulk request as objects (the mock hands them over parsed). */
const lines = (body: unknown): unknown[] =>
  Array.isArray(body)
    ? body
    : String(typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : JSON.stringify(body))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));

describe('ElasticsearchSink', () => {
  let mock: Mock;
  let client: Client;
  const calls: { method: string; path: string; body: unknown }[] = [];

  beforeEach(() => {
    mock = new Mock();
    client = new Client({ node: 'http://es.test:9200', Connection: mock.getConnection(), maxRetries: 0 });
    calls.length = 0;
  });

  const recordCall = (params: { method: string | string[]; path: string | string[]; body?: unknown }) =>
    calls.push({ method: String(params.method), path: String(params.path), body: params.body });

  it('puts the ILM policy, the data stream template and the fields added since on the existing backing indices', async () => {
    mock.add({ method: 'PUT', path: `/_ilm/policy/${AUTH_RECORD_DATA_STREAM}` }, (params) => (recordCall(params), { acknowledged: true }));
    mock.add({ method: 'PUT', path: `/_index_template/${AUTH_RECORD_DATA_STREAM}` }, (params) => (recordCall(params), { acknowledged: true }));
    mock.add({ method: 'PUT', path: `/${AUTH_RECORD_DATA_STREAM}/_mapping` }, (params) => (recordCall(params), { acknowledged: true }));
    await new ElasticsearchSink(client, { retentionDays: 14 }).prepare();
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'PUT /_ilm/policy/analytic-auth-record',
      'PUT /_index_template/analytic-auth-record',
      'PUT /analytic-auth-record/_mapping',
    ]);
    expect(calls[2].body).toEqual({ properties: { client_id: { type: 'keyword' } } });
    expect(calls[0].body).toEqual({
      policy: { phases: { hot: { actions: { rollover: { max_age: '1d', max_primary_shard_size: '50gb' } } }, delete: { min_age: '14d', actions: { delete: {} } } } },
    });
    const template = calls[1].body as any;
    expect(template).toMatchObject({
      index_patterns: ['analytic-auth-record*'],
      data_stream: {},
      priority: 500,
      template: { settings: { 'index.lifecycle.name': 'analytic-auth-record' }, mappings: { dynamic: 'strict' } },
    });
    expect(Object.keys(template.template.mappings.properties).sort()).toEqual(Object.keys(documentOf(record('x'))).sort());
    expect(template.template.mappings.properties.client_ip).toEqual({ type: 'ip' });
    expect(template.template.mappings.properties.client_id).toEqual({ type: 'keyword' });
  });

  it('starts before any data stream exists (the mapping update answered 404)', async () => {
    mock.add({ method: 'PUT', path: `/_ilm/policy/${AUTH_RECORD_DATA_STREAM}` }, () => ({ acknowledged: true }));
    mock.add({ method: 'PUT', path: `/_index_template/${AUTH_RECORD_DATA_STREAM}` }, () => ({ acknowledged: true }));
    mock.add(
      { method: 'PUT', path: `/${AUTH_RECORD_DATA_STREAM}/_mapping` },
      () => new errors.ResponseError({ body: { error: { type: 'index_not_found_exception' }, status: 404 }, statusCode: 404, headers: {}, warnings: null, meta: {} as never }),
    );
    await expect(new ElasticsearchSink(client, { retentionDays: 14 }).prepare()).resolves.toBeUndefined();
  });

  it('writes a record of a Gateway that knows no client id with client_id null', async () => {
    mock.add({ method: 'POST', path: '/_bulk' }, (params) => (recordCall(params), { errors: false, took: 1, items: [] }));
    const { clientId: _none, ...older } = record('older');
    await new ElasticsearchSink(client, { retentionDays: 30 }).write([older]);
    expect(lines(calls[0].body)[1]).toMatchObject({ request_id: 'older', client_id: null });
  });

  it('writes one create per record with the record id as _id, exactly these bodies', async () => {
    mock.add({ method: 'POST', path: '/_bulk' }, (params) => (recordCall(params), { errors: false, took: 1, items: [] }));
    const records = [record('r1'), record('r2')];
    await new ElasticsearchSink(client, { retentionDays: 30 }).write(records);
    expect(calls).toHaveLength(1);
    expect(lines(calls[0].body)).toEqual([
      { create: { _index: 'analytic-auth-record', _id: records[0].id } },
      {
        '@timestamp': '2026-12-01T12:00:00.000Z',
        record_id: records[0].id,
        environment: 'prod',
        gateway_id: 'gw-1',
        proxy_id: 'p1',
        proxy_name: 'orders',
        project_id: 'proj',
        policy: 'api-key',
        outcome: 'denied',
        reason: 'invalid_api_key',
        status: 401,
        credential_id: null,
        username: null,
        key_prefix: 'idm_abcdefgh',
        client_id: 'billing-app',
        issuer: null,
        token_type: null,
        client_ip: '203.0.113.9',
        country: null,
        user_agent: 'curl/8',
        request_id: 'r1',
        latency_ms: 0.25,
        llm: null,
      },
      { create: { _index: 'analytic-auth-record', _id: records[1].id } },
      expect.objectContaining({ record_id: records[1].id, request_id: 'r2' }),
    ]);
  });

  it('retries the items answered 429, takes 409 as already written', async () => {
    const records = [record('ok'), record('dup'), record('busy')];
    let attempt = 0;
    mock.add({ method: 'POST', path: '/_bulk' }, (params) => {
      recordCall(params);
      attempt++;
      if (attempt === 1)
        return {
          errors: true,
          took: 1,
          items: [
            { create: { _index: 'x', status: 201 } },
            { create: { _index: 'x', status: 409, error: { type: 'version_conflict_engine_exception', reason: 'exists' } } },
            { create: { _index: 'x', status: 429, error: { type: 'es_rejected_execution_exception', reason: 'queue full' } } },
          ],
        };
      return { errors: false, took: 1, items: [{ create: { _index: 'x', status: 201 } }] };
    });
    await new ElasticsearchSink(client, { retentionDays: 30, backoffMs: 1 }).write(records);
    expect(calls).toHaveLength(2);
    expect(lines(calls[1].body)).toEqual([{ create: { _index: 'analytic-auth-record', _id: records[2].id } }, expect.objectContaining({ request_id: 'busy' })]);
  });

  it('retries a whole request answered 429, and fails after the last attempt', async () => {
    mock.add({ method: 'POST', path: '/_bulk' }, (params) => {
      recordCall(params);
      return new errors.ResponseError({ body: { error: 'too many requests' }, statusCode: 429, headers: {}, warnings: null, meta: {} as never });
    });
    await expect(new ElasticsearchSink(client, { retentionDays: 30, backoffMs: 1, maxAttempts: 3 }).write([record('a')])).rejects.toThrow(/429/);
    expect(calls).toHaveLength(3);
  });

  it('fails the write (not acknowledged) when an item fails otherwise', async () => {
    mock.add({ method: 'POST', path: '/_bulk' }, () => ({
      errors: true,
      took: 1,
      items: [{ create: { _index: 'x', status: 400, error: { type: 'mapper_parsing_exception', reason: 'bad' } } }],
    }));
    await expect(new ElasticsearchSink(client, { retentionDays: 30 }).write([record('a')])).rejects.toThrow(/400 mapper_parsing_exception/);
  });
});

/** Against a real cluster, only where one is given (ELASTICSEARCH_URL): the data stream takes a record once, however often it is written. */
(process.env.ELASTICSEARCH_URL ? describe : describe.skip)('ElasticsearchSink on a live cluster', () => {
  it('creates the data stream and stores a redelivered record once', async () => {
    const client = new Client({ node: process.env.ELASTICSEARCH_URL! });
    const sink = new ElasticsearchSink(client, { retentionDays: 1 });
    await sink.prepare();
    const r = record(`live-${randomUUID()}`);
    await sink.write([r]);
    await sink.write([r]);
    await client.indices.refresh({ index: AUTH_RECORD_DATA_STREAM });
    const found = await client.count({ index: AUTH_RECORD_DATA_STREAM, query: { term: { record_id: r.id } } });
    expect(found.count).toBe(1);
    await client.close();
  });
});
