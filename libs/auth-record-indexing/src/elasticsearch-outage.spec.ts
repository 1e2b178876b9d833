import { AUTH_RECORDS_BATCH_FIELD, AUTH_RECORDS_GROUP, AUTH_RECORDS_QUEUED_KEY, AUTH_RECORDS_STREAM, type AuthRecord } from '@idm/config-bus';
import { Client, errors } from '@elastic/elasticsearch';
import Mock from '@elastic/elasticsearch-mock';
import { eventually, freePort, RedisProcess } from '@idm/test-kit';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { AuthRecordIndexer } from './auth-record-indexer';
import { AUTH_RECORD_DATA_STREAM, documentOf, ElasticsearchSink } from './sinks/elasticsearch-sink';

/**
 * Nothing lost, nothing twice through an Elasticsearch outage: N records are queued in a private
 * Redis while two indexers write them to a cluster (@elastic/elasticsearch-mock, Elasticsearch
 * cannot run here) that stores documents by `_id` and answers a `create` of a stored id with 409,
 * as a data stream does. Mid-stream the cluster answers 503, then writes bulks but loses the
 * answers (the connection drops after the write: what is stored comes again), then refuses
 * connections while one indexer is stopped holding entries; then it recovers. It ends with
 * exactly N documents, one per record, and the stream empty.
 */
const RECORDS = 2_000;
const BATCH = 50;

/** What a mock resolver may answer: a body, or an error the client sees. */
type MockAnswer = ReturnType<Parameters<Mock['add']>[1]>;

type Mode = 'up' | 'unavailable' | 'answer-lost' | 'refused';

/** The cluster's side of `_bulk`: what it stored, and how each mode answered. */
class FakeCluster {
  mode: Mode = 'up';
  readonly documents = new Map<string, Record<string, unknown>>();
  /** `create` operations received (a redelivered record counts again). */
  creates = 0;
  conflicts = 0;
  readonly failedBulks: Record<Exclude<Mode, 'up'>, number> = { unavailable: 0, 'answer-lost': 0, refused: 0 };

  bulk(body: unknown): MockAnswer {
    const mode = this.mode;
    if (mode === 'unavailable') {
      this.failedBulks.unavailable++;
      return new errors.ResponseError({ body: { error: 'unavailable', status: 503 }, statusCode: 503, headers: {}, warnings: null, meta: {} as never });
    }
    if (mode === 'refused') {
      this.failedBulks.refused++;
      return new errors.ConnectionError('connect ECONNREFUSED es.test:9200');
    }
    const operations = linesOf(body);
    const items: unknown[] = [];
    for (let i = 0; i < operations.length; i += 2) {
      const id = (operations[i] as { create: { _id: string } }).create._id;
      this.creates++;
      if (this.documents.has(id)) {
        this.conflicts++;
        items.push({ create: { _id: id, status: 409, error: { type: 'version_conflict_engine_exception', reason: 'document already exists' } } });
      } else {
        this.documents.set(id, operations[i + 1] as Record<string, unknown>);
        items.push({ create: { _id: id, status: 201 } });
      }
    }
    if (mode === 'answer-lost') {
      this.failedBulks['answer-lost']++;
      return new errors.ConnectionError('socket hang up');
    }
    return { took: 1, errors: items.some((item) => (item as { create: { status: number } }).create.status !== 201), items };
  }
}

/** The mock's connection cannot be closed (the sink closes its client when its indexer stops): closing it frees nothing. */
function closable(connection: ReturnType<Mock['getConnection']>): ReturnType<Mock['getConnection']> {
  return class extends connection {
    override close(): Promise<void> {
      return Promise.resolve();
    }
  };
}

/** The NDJSON lines of a bulk request as objects (the mock hands them over parsed or as text). */
function linesOf(body: unknown): unknown[] {
  if (Array.isArray(body)) return body;
  const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : JSON.stringify(body);
  return text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as unknown);
}

const record = (i: number): AuthRecord => ({
  id: randomUUID(),
  time: Date.UTC(2026, 11, 2, 12, 0, 0) + i,
  environment: 'es-outage',
  gatewayId: 'gw-1',
  proxyId: 'p1',
  proxyName: 'orders',
  projectId: 'proj',
  policy: 'api-key',
  outcome: 'success',
  reason: null,
  status: 200,
  credentialId: 'c-alice',
  username: 'alice',
  keyPrefix: 'idm_abcdefgh',
  clientId: null,
  issuer: null,
  tokenType: null,
  clientIp: '203.0.113.9',
  country: null,
  userAgent: 'outage-test/1',
  requestId: `outage-${i}`,
  latencyMs: 0.1,
  llm: null,
});

describe('auth records through an Elasticsearch outage (two indexers, one stopped mid-outage)', () => {
  let redisServer: RedisProcess;
  let redis: Redis;
  const cluster = new FakeCluster();
  const mock = new Mock();
  const running: { indexer: AuthRecordIndexer; done: Promise<void>; redis: Redis }[] = [];
  const warnings: string[] = [];
  const log = {
    info: () => undefined,
    warn: (fields: object, message: string) => void warnings.push(`${message} ${JSON.stringify(fields)}`),
    error: (fields: object, message: string) => void warnings.push(`${message} ${JSON.stringify(fields)}`),
  };

  beforeAll(async () => {
    redisServer = new RedisProcess(await freePort());
    await redisServer.start();
    redis = new Redis(redisServer.url);
    mock.add({ method: 'PUT', path: `/_ilm/policy/${AUTH_RECORD_DATA_STREAM}` }, () => ({ acknowledged: true }));
    mock.add({ method: 'PUT', path: `/_index_template/${AUTH_RECORD_DATA_STREAM}` }, () => ({ acknowledged: true }));
    mock.add({ method: 'PUT', path: `/${AUTH_RECORD_DATA_STREAM}/_mapping` }, () => ({ acknowledged: true }));
    mock.add({ method: 'POST', path: '/_bulk' }, (params) => cluster.bulk(params.body));
    // The client pings a node it marked dead (after a refused connection) before using it again.
    mock.add({ method: 'HEAD', path: '/' }, () => (cluster.mode === 'refused' ? new errors.ConnectionError('connect ECONNREFUSED es.test:9200') : ''));
  }, 60_000);

  afterAll(async () => {
    for (const r of running) r.indexer.stop();
    await Promise.all(running.map((r) => r.done.catch(() => undefined)));
    for (const r of running) r.redis.disconnect();
    redis?.disconnect();
    await redisServer?.stop();
  });

  /** An indexer as `apps/indexer` runs one: its own Redis connection and client; the client's own retries off, so every failure reaches the indexer. */
  function startIndexer(consumer: string) {
    const connection = new Redis(redisServer.url, { maxRetriesPerRequest: null });
    const client = new Client({ node: 'http://es.test:9200', Connection: closable(mock.getConnection()), maxRetries: 0 });
    const indexer = new AuthRecordIndexer(
      connection,
      new ElasticsearchSink(client, { retentionDays: 7 }),
      { consumer, readCount: 4, inFlight: 2, claimIdleMs: 500, retryDelayMs: 50, blockMs: 100 },
      log,
    );
    const entry = { indexer, done: indexer.run(), redis: connection };
    running.push(entry);
    return entry;
  }

  /** Queues records as a Gateway does: one stream entry per batch, counted in the queue's size. */
  async function queue(records: AuthRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += BATCH) {
      const batch = records.slice(i, i + BATCH);
      await redis.multi().xadd(AUTH_RECORDS_STREAM, '*', AUTH_RECORDS_BATCH_FIELD, JSON.stringify(batch)).incrby(AUTH_RECORDS_QUEUED_KEY, batch.length).exec();
    }
  }

  const failuresSeen = (mode: Exclude<Mode, 'up'>, n: number) =>
    eventually(
      async () => cluster.failedBulks[mode],
      (seen) => seen >= n,
      { what: `${n} bulk requests answered in mode ${mode}`, timeoutMs: 60_000, intervalMs: 20 },
    );

  it('stores every record exactly once', async () => {
    const records = Array.from({ length: RECORDS }, (_, i) => record(i));
    const [a] = [startIndexer('indexer-a'), startIndexer('indexer-b')];
    const part = (from: number, to: number) => records.slice(Math.floor(RECORDS * from), Math.floor(RECORDS * to));

    await queue(part(0, 0.25));
    await eventually(
      async () => cluster.documents.size,
      (n) => n > 0,
      { what: 'the first documents stored', timeoutMs: 60_000 },
    );
    cluster.mode = 'unavailable';
    await queue(part(0.25, 0.45));
    await failuresSeen('unavailable', 3);
    cluster.mode = 'answer-lost'; // stored, but the indexers cannot know: they send them again
    await queue(part(0.45, 0.6));
    await failuresSeen('answer-lost', 3);
    cluster.mode = 'refused';
    await queue(part(0.6, 0.8));
    await failuresSeen('refused', 2);
    // indexer-a gives up whatever it holds unacknowledged (as a killed one would); indexer-b takes it over.
    a.indexer.stop();
    await a.done;
    await queue(part(0.8, 1));
    await failuresSeen('refused', 4);
    cluster.mode = 'up';

    const drained = await eventually(
      async () => ({
        queued: await redis.get(AUTH_RECORDS_QUEUED_KEY),
        length: await redis.xlen(AUTH_RECORDS_STREAM),
        pending: ((await redis.xpending(AUTH_RECORDS_STREAM, AUTH_RECORDS_GROUP)) as [number])[0],
      }),
      (s) => s.queued === '0' && s.length === 0 && s.pending === 0,
      { what: 'the stream drained and acknowledged', timeoutMs: 120_000, intervalMs: 100 },
    );
    expect(drained).toEqual({ queued: '0', length: 0, pending: 0 });

    expect(cluster.documents.size).toBe(RECORDS);
    for (const r of records) expect(cluster.documents.get(r.id)).toEqual(documentOf(r));
    // The outage was real: bulks failed in every mode and stored records came again, answered 409 and taken as written.
    expect(Object.values(cluster.failedBulks).every((n) => n > 0)).toBe(true);
    expect(cluster.conflicts).toBeGreaterThan(0);
    expect(cluster.creates).toBe(RECORDS + cluster.conflicts);
    expect(warnings.some((w) => w.includes('sink refused auth records; retrying'))).toBe(true);
  }, 240_000);
});
