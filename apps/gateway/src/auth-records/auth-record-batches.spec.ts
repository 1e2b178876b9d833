import { authRecordBatchSchema, type AuthRecord } from '@idm/config-bus';
import { AuthRecordBatches, type SealedBatch } from './auth-record-batches';

/**
 * The records a Gateway holds until Redis takes them, kept as the JSON text of the stream entries:
 * what the indexers and the live tail parse must be exactly the records reported, in order, in
 * batches of the entry size, whatever the strings hold.
 */
describe('AuthRecordBatches', () => {
  const record = (n: number, userAgent: string | null = 'curl/8'): AuthRecord => ({
    id: `0b7c9a52-3d1e-4f6a-8b2c-${n.toString(16).padStart(12, '0')}`,
    time: 1_760_000_000_000 + n,
    environment: 'prod',
    gatewayId: 'gw-1',
    proxyId: 'p1',
    proxyName: 'orders',
    projectId: 'project-1',
    policy: 'api-key',
    outcome: n % 2 === 0 ? 'success' : 'denied',
    reason: n % 2 === 0 ? null : 'invalid_api_key',
    status: n % 2 === 0 ? 200 : 401,
    credentialId: null,
    username: null,
    keyPrefix: 'idm_abcdefgh',
    clientId: null,
    issuer: null,
    tokenType: null,
    clientIp: '192.0.2.7',
    country: null,
    userAgent,
    requestId: `req-${n}`,
    latencyMs: 0.125,
    llm: null,
  });
  const parsed = (batch: SealedBatch | null) => authRecordBatchSchema.parse(JSON.parse(batch!.json.toString('utf8')));
  /** Takes every batch in order, as the queue's drain does once Redis took each. */
  const drain = (batches: AuthRecordBatches) => {
    const taken: { count: number; records: AuthRecord[] }[] = [];
    for (let batch = batches.next(); batch !== null; batch = batches.next()) {
      taken.push({ count: batch.count, records: parsed(batch) });
      batches.release(batch);
    }
    return taken;
  };

  it('seals a batch every `recordsPerBatch` records and the rest when asked, each a JSON array of the records in order', () => {
    const batches = new AuthRecordBatches(3);
    const records = Array.from({ length: 7 }, (_, n) => record(n));
    for (const r of records) batches.add(JSON.stringify(r));
    expect(batches.size).toBe(7);
    const taken = drain(batches);
    expect(taken.map((b) => b.count)).toEqual([3, 3, 1]);
    expect(taken.flatMap((b) => b.records)).toEqual(records);
    expect([batches.size, batches.next()]).toEqual([0, null]);
  });

  it('keeps a batch until it is released (a failed send is retried with the same bytes), and ignores a release of another', () => {
    const batches = new AuthRecordBatches(2);
    for (const n of [1, 2, 3]) batches.add(JSON.stringify(record(n)));
    const first = batches.next()!;
    const bytes = Buffer.from(first.json);
    batches.add(JSON.stringify(record(4))); // reported while the first batch is being sent
    expect(batches.next()).toBe(first);
    batches.release({ json: first.json, count: first.count }); // not the batch handed out
    expect(batches.next()).toBe(first);
    expect(first.json.equals(bytes)).toBe(true);
    batches.release(first);
    expect(batches.size).toBe(2);
    expect(drain(batches).flatMap((b) => b.records.map((r) => r.requestId))).toEqual(['req-3', 'req-4']);
  });

  it('reuses a released buffer without leaking the earlier batch into the next', () => {
    const batches = new AuthRecordBatches(2);
    batches.add(JSON.stringify(record(1, 'a'.repeat(400))));
    batches.add(JSON.stringify(record(2, 'b'.repeat(400))));
    drain(batches);
    batches.add(JSON.stringify(record(3)));
    expect(drain(batches)).toEqual([{ count: 1, records: [record(3)] }]);
  });

  it('carries any text a record holds (multi-byte, quotes, control characters) and records longer than a buffer', () => {
    const batches = new AuthRecordBatches(500);
    const odd = ['Ünïcödé 日本語 🙂', 'quote " backslash \\ newline \n tab \t nul \u0000', 'lone surrogate \ud800 end'];
    const records = odd.map((ua, n) => record(n, ua));
    // 600 KB of JSON in one batch: past the initial buffer, which then grows.
    const long = Array.from({ length: 1_200 }, (_, n) => record(100 + n, `é${'x'.repeat(500)}`));
    for (const r of [...records, ...long]) batches.add(JSON.stringify(r));
    const taken = drain(batches);
    expect(taken.map((b) => b.count)).toEqual([500, 500, 203]);
    expect(taken[0]!.records.slice(0, 3).map((r) => r.userAgent)).toEqual(odd);
    expect(taken.flatMap((b) => b.records)).toEqual([...records, ...long]);
  });
});
