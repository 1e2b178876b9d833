import { AUTH_RECORDS_BATCH_FIELD, AUTH_RECORDS_GROUP, AUTH_RECORDS_QUEUED_KEY, AUTH_RECORDS_STREAM, authRecordEntryJson, type AuthRecord } from '@idm/config-bus';
import { eventually, freePort, RedisProcess } from '@idm/test-kit';
import Redis from 'ioredis';
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { AuthRecordConsumer } from './auth-record-consumer';
import type { AuthRecordSink } from './auth-record-sink';
import { PostgresSink } from './sinks/postgres-sink';
import { poolClient } from './sinks/sql-client';

/**
 * Several reads in flight in one indexer, each acknowledged only after its own commit: indexer A
 * (two in flight, one entry per read) holds entries 1 and 2 at once; entry 1 commits and is
 * acknowledged, entry 2 commits and A "crashes" before acknowledging it, entry 3 (read into the
 * freed slot) never reaches the database. Restarted under the same name, the indexer reads its
 * own unacknowledged entries (2 and 3, one page each) and writes them: every record stored once,
 * the queue empty. A real PostgreSQL (a database of the test's own) and a private Redis. Entries
 * 1 and 3 are in the format Gateways write (rows under an envelope), entry 2 in the one older
 * Gateways wrote (record objects): both are indexed, in one write when read together.
 */
const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PER_ENTRY = 40;

const record = (entry: number, i: number): AuthRecord => ({
  id: randomUUID(),
  time: Date.now() - i,
  environment: 'in-flight',
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
  userAgent: 'in-flight-test/1',
  requestId: `entry-${entry}-${i}`,
  latencyMs: 0.1,
  llm: null,
});

/** A gate the test opens (or fails) by hand. */
function gate(): { promise: Promise<void>; open(): void; fail(err: Error): void } {
  let open!: () => void;
  let fail!: (err: Error) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

/**
 * The PostgreSQL sink with hooks where a crash can fall: before a write reaches the database, and
 * after its commit, before the indexer hears of it (and so before it acknowledges).
 */
class SteppedSink implements AuthRecordSink {
  readonly name = 'postgresql';
  /** requestId prefix of each write's first record, in the order the writes started. */
  readonly started: string[] = [];
  readonly committed: string[] = [];
  before = new Map<string, Promise<void>>();
  after = new Map<string, Promise<void>>();

  constructor(private readonly inner: PostgresSink) {}

  prepare = () => this.inner.prepare();
  applyRetention = (now: number) => this.inner.applyRetention(now);
  close = () => this.inner.close();

  async write(records: readonly AuthRecord[], json?: string): Promise<void> {
    const entry = records[0].requestId.split('-').slice(0, 2).join('-');
    this.started.push(entry);
    await this.before.get(entry);
    await this.inner.write(records, json);
    this.committed.push(entry);
    await this.after.get(entry);
  }
}

describe('an indexer with several reads in flight', () => {
  let redisServer: RedisProcess;
  let redis: Redis;
  const database = `idm_test_${randomBytes(6).toString('hex')}`;
  let databaseUrl: string;
  const connections: Redis[] = [];
  const sinks: AuthRecordSink[] = [];
  const log = { warn: () => undefined, error: () => undefined };

  const admin = async (sql: string) => {
    const client = new Client({ connectionString: PG_ADMIN_URL });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    redisServer = new RedisProcess(await freePort());
    await Promise.all([redisServer.start(), admin(`CREATE DATABASE ${database}`)]);
    redis = new Redis(redisServer.url);
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/${database}`;
    databaseUrl = url.toString();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(sinks.map((s) => s.close().catch(() => undefined)));
    for (const c of connections) c.disconnect();
    redis?.disconnect();
    await redisServer?.stop();
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });

  function consumer(sink: AuthRecordSink): { consumer: AuthRecordConsumer; connection: Redis; done: Promise<void> } {
    const connection = new Redis(redisServer.url, { maxRetriesPerRequest: 0 });
    connection.on('error', () => undefined);
    connections.push(connection);
    sinks.push(sink);
    // One entry per read, two reads in flight; a long idle time: only a restart under the same name recovers A's entries.
    const c = new AuthRecordConsumer(connection, sink, { consumer: 'indexer-a', readCount: 1, inFlight: 2, claimIdleMs: 3_600_000, retryDelayMs: 50, blockMs: 100 }, log);
    return { consumer: c, connection, done: c.run() };
  }

  const stored = async () => {
    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ rows: number; ids: number; entries: string[] | null }>(
        "SELECT count(*)::int AS rows, count(DISTINCT id)::int AS ids, array_agg(DISTINCT substring(request_id from '^entry-[0-9]+') ORDER BY substring(request_id from '^entry-[0-9]+')) AS entries FROM auth_records WHERE environment = 'in-flight'",
      );
      return { rows: rows[0].rows, ids: rows[0].ids, entries: rows[0].entries ?? [] };
    } finally {
      await client.end();
    }
  };

  const pendingOfA = async () => {
    const pending = (await redis.xpending(AUTH_RECORDS_STREAM, AUTH_RECORDS_GROUP, '-', '+', 100, 'indexer-a')) as [string, string, number, number][];
    return pending.map(([id]) => id);
  };

  it('acknowledges each read after its own commit; a crash with two in flight loses nothing and stores nothing twice', async () => {
    const sink = new PostgresSink(poolClient(databaseUrl, 'in-flight-spec'), 30);
    await sink.prepare();
    const entries = [1, 2, 3].map((entry) => Array.from({ length: PER_ENTRY }, (_, i) => record(entry, i)));
    const ids: string[] = [];
    for (const [n, batch] of entries.entries()) {
      const [[, id]] = (await redis
        .multi()
        .xadd(AUTH_RECORDS_STREAM, '*', AUTH_RECORDS_BATCH_FIELD, n === 1 ? JSON.stringify(batch) : authRecordEntryJson(batch))
        .incrby(AUTH_RECORDS_QUEUED_KEY, batch.length)
        .exec()) as [[null, string], [null, number]];
      ids.push(id);
    }

    const stepped = new SteppedSink(sink);
    const firstHeld = gate();
    const secondCommitted = gate();
    const thirdHeld = gate();
    stepped.before.set('entry-1', firstHeld.promise);
    stepped.after.set('entry-2', secondCommitted.promise);
    stepped.before.set('entry-3', thirdHeld.promise);
    const a = consumer(stepped);

    // Both reads in flight at once: entry 2's write committed while entry 1's is still held.
    await eventually(
      async () => ({ started: [...stepped.started], committed: [...stepped.committed] }),
      (s) => s.started.includes('entry-1') && s.committed.includes('entry-2'),
      { what: 'entries 1 and 2 written at once', timeoutMs: 30_000, intervalMs: 20 },
    );
    expect(stepped.committed).toEqual(['entry-2']);
    expect(await pendingOfA()).toEqual([ids[0], ids[1]]); // committed entry 2 is not acknowledged yet
    firstHeld.open();
    // Entry 1 acknowledged; its slot reads entry 3, held before the database.
    await eventually(
      async () => ({ started: [...stepped.started], pending: await pendingOfA() }),
      (s) => s.started.includes('entry-3') && !s.pending.includes(ids[0]),
      { what: 'entry 1 acknowledged and entry 3 in flight', timeoutMs: 30_000, intervalMs: 20 },
    );
    expect(Number(await redis.get(AUTH_RECORDS_QUEUED_KEY))).toBe(2 * PER_ENTRY);

    // The crash: A's connection drops with entry 2 committed, unacknowledged, and entry 3 unwritten.
    a.consumer.stop();
    a.connection.disconnect();
    secondCommitted.fail(new Error('crashed'));
    thirdHeld.fail(new Error('crashed'));
    await a.done;
    expect(await pendingOfA()).toEqual([ids[1], ids[2]]);
    expect(await stored()).toEqual({ rows: 2 * PER_ENTRY, ids: 2 * PER_ENTRY, entries: ['entry-1', 'entry-2'] });

    // Restarted under the same name: it reads its own pending entries (one per page) and writes them.
    const restarted = new SteppedSink(new PostgresSink(poolClient(databaseUrl, 'in-flight-spec'), 30));
    const b = consumer(restarted);
    await eventually(
      async () => Number(await redis.get(AUTH_RECORDS_QUEUED_KEY)),
      (queued) => queued === 0,
      { what: 'the queue drained', timeoutMs: 30_000, intervalMs: 20 },
    );
    b.consumer.stop();
    await b.done;
    expect(restarted.started.sort()).toEqual(['entry-2', 'entry-3']);
    expect(await stored()).toEqual({ rows: 3 * PER_ENTRY, ids: 3 * PER_ENTRY, entries: ['entry-1', 'entry-2', 'entry-3'] });
    expect(await pendingOfA()).toEqual([]);
    expect(await redis.xlen(AUTH_RECORDS_STREAM)).toBe(0);
    expect(b.consumer.indexed).toBe(2 * PER_ENTRY);
  });
});
