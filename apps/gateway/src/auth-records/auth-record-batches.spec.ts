import { authRecordEntrySchema, type AuthRecord } from '@idm/config-bus';
import { AuthRecordBatches, type SealedBatch } from './auth-record-batches';

/**
 * The records a Gateway holds until Redis takes them, kept as the text of the stream entries (an
 * envelope with the shared fields, a positional row per record):
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
  const parsed = (batch: SealedBatch | null) => authRecordEntrySchema.parse(JSON.parse(batch!.json.toString('utf8')));
  const add = (batches: AuthRecordBatches, r: AuthRecord) => batches.add(r);
  /** Takes every batch in order, as the queue's drain does once Redis took each. */
  const drain = (batches: AuthRecordBatches) => {
    const taken: { count: number; records: AuthRecord[] }[] = [];
    for (let batch = batches.next(); batch !== null; batch = batches.next()) {
      taken.push({ count: batch.count, records: parsed(batch) });
      batches.release(batch);
    }
    return taken;
  };

  it('seals a batch every `recordsPerBatch` records and the rest when asked, each an entry of the records in order', () => {
    const batches = new AuthRecordBatches(3);
    const records = Array.from({ length: 7 }, (_, n) => record(n));
    for (const r of records) add(batches, r);
    expect(batches.size).toBe(7);
    const taken = drain(batches);
    expect(taken.map((b) => b.count)).toEqual([3, 3, 1]);
    expect(taken.flatMap((b) => b.records)).toEqual(records);
    expect([batches.size, batches.next()]).toEqual([0, null]);
  });

  it('keeps a batch until it is released (a failed send is retried with the same bytes), and ignores a release of another', () => {
    const batches = new AuthRecordBatches(2);
    for (const n of [1, 2, 3]) add(batches, record(n));
    const first = batches.next()!;
    const bytes = Buffer.from(first.json);
    add(batches, record(4)); // reported while the first batch is being sent
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
    add(batches, record(1, 'a'.repeat(400)));
    add(batches, record(2, 'b'.repeat(400)));
    drain(batches);
    add(batches, record(3));
    expect(drain(batches)).toEqual([{ count: 1, records: [record(3)] }]);
  });

  it('carries any text a record holds (multi-byte, quotes, control characters) and records longer than a buffer', () => {
    const batches = new AuthRecordBatches(500);
    const odd = ['Ünïcödé 日本語 🙂', 'quote " backslash \\ newline \n tab \t nul \u0000', 'lone surrogate \ud800 end'];
    const records = odd.map((ua, n) => record(n, ua));
    // 600 KB of JSON in one batch: past the initial buffer, which then grows.
    const long = Array.from({ length: 1_200 }, (_, n) => record(100 + n, `é${'x'.repeat(500)}`));
    for (const r of [...records, ...long]) add(batches, r);
    const taken = drain(batches);
    expect(taken.map((b) => b.count)).toEqual([500, 500, 203]);
    expect(taken[0]!.records.slice(0, 3).map((r) => r.userAgent)).toEqual(odd);
    expect(taken.flatMap((b) => b.records)).toEqual([...records, ...long]);
  });

  it('writes each record once in its entry: the shared fields in the envelope, no field of the record lost or renamed', () => {
    const batches = new AuthRecordBatches(10);
    const r = {
      ...record(1),
      clientId: 'client-9',
      issuer: 'https://op.example',
      tokenType: 'jwt',
      country: 'DE',
      llm: { model: 'gpt', promptTokens: 1, completionTokens: 2, totalTokens: 3, estimated: false },
    };
    add(batches, r);
    const text = batches.next()!.json.toString('utf8');
    expect(JSON.parse(text)).toMatchObject({ v: 2, environment: 'prod', gatewayId: 'gw-1', time0: r.time, rows: [expect.any(Array)], proxies: [['p1', 'orders', 'project-1']] });
    expect(text.match(/"prod"/g)).toHaveLength(1);
    expect(text.match(/"orders"/g)).toHaveLength(1);
    expect(parsed(batches.next())).toEqual([r]);
  });

  it('starts an entry of its own for a record of another environment or Gateway', () => {
    const batches = new AuthRecordBatches(10);
    const records = [record(1), { ...record(2), gatewayId: 'gw-2' }, { ...record(3), gatewayId: 'gw-2' }, { ...record(4), environment: 'test' }];
    for (const r of records) add(batches, r);
    const taken = drain(batches);
    expect(taken.map((b) => b.count)).toEqual([1, 2, 1]);
    expect(taken.flatMap((b) => b.records)).toEqual(records);
  });

  it('lists each proxy of a batch once and gives every row its own, whatever the order, renames and proxy-less records', () => {
    const batches = new AuthRecordBatches(50);
    const records = Array.from({ length: 12 }, (_, n) => {
      const r = record(n);
      if (n % 3 === 1) return { ...r, proxyId: 'p2', proxyName: 'billing', projectId: 'project-2' };
      if (n === 6) return { ...r, proxyName: 'orders-renamed' };
      if (n % 3 === 2) return { ...r, proxyId: null, proxyName: null, projectId: n % 2 === 0 ? 'project-1' : 'project-3' };
      return r;
    });
    for (const r of records) add(batches, r);
    const text = batches.next()!.json.toString('utf8');
    expect(JSON.parse(text).proxies).toHaveLength(5);
    expect(parsed(batches.next())).toEqual(records);
  });
});
