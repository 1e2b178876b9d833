import { AUTH_RECORD_ROW, authRecordEntryCount, authRecordEntryHead, authRecordEntryJson, authRecordEntrySchema, authRecordRowJson } from './auth-record-entry';
import type { AuthRecord } from './auth-record.message';

/** The stream entry's text as the Gateway writes it (envelope + rows) and as older Gateways did (record objects): readers get the same records from both. */
describe('auth record entries', () => {
  const record = (n: number, extra: Partial<AuthRecord> = {}): AuthRecord => ({
    id: `0b7c9a52-3d1e-4f6a-8b2c-${n.toString(16).padStart(12, '0')}`,
    time: 1_760_000_000_000 + n,
    environment: 'prod',
    gatewayId: 'gw-1',
    proxyId: 'p1',
    proxyName: 'orders',
    projectId: 'project-1',
    policy: 'api-key',
    outcome: 'denied',
    reason: 'invalid_api_key',
    status: 401,
    credentialId: 'c1',
    username: 'alice',
    keyPrefix: 'idm_abcdefgh',
    clientId: 'client-1',
    issuer: 'https://issuer.example',
    tokenType: 'jwt',
    clientIp: '192.0.2.7',
    country: 'FR',
    userAgent: 'curl/8',
    requestId: `req-${n}`,
    latencyMs: 0.125,
    llm: { model: 'm', promptTokens: 1, completionTokens: 2, totalTokens: 3, estimated: true },
    ...extra,
  });
  const read = (text: string) => authRecordEntrySchema.safeParse(JSON.parse(text));

  it('gives back every field of every record, the shared ones from the envelope', () => {
    const records = [record(1), record(2, { llm: null, clientId: null, country: null, reason: null, outcome: 'success', status: 200 })];
    const text = authRecordEntryJson(records);
    expect(text.startsWith(authRecordEntryHead('prod', 'gw-1', records[0].time))).toBe(true);
    expect(JSON.parse(text).proxies).toEqual([['p1', 'orders', 'project-1']]);
    expect(JSON.parse(text).rows[0]).toHaveLength(AUTH_RECORD_ROW.length);
    expect(read(text)).toEqual({ success: true, data: records });
    expect(authRecordEntryCount(JSON.parse(text))).toBe(2);
  });

  it('reads entries of the earlier format (a JSON array of records) as they were', () => {
    const records = [record(1), { ...record(2), clientId: undefined }];
    expect(read(JSON.stringify(records))).toMatchObject({ success: true, data: [records[0], { requestId: 'req-2' }] });
    expect(authRecordEntryCount(records)).toBe(2);
  });

  it('refuses an entry whose rows or envelope are not what the format says, counting what it claimed', () => {
    const good = JSON.parse(authRecordEntryJson([record(1), record(2)]));
    const malformed = [
      { ...good, v: 3 },
      { ...good, environment: 7 },
      { ...good, rows: [good.rows[0], good.rows[1].slice(0, -1)] },
      { ...good, rows: [good.rows[0], [...good.rows[1], 'one more']] },
      { ...good, rows: [good.rows[0], { id: good.rows[1][0] }] },
      { ...good, rows: [[...good.rows[0].slice(0, 4), 'maybe', ...good.rows[0].slice(5)]] },
      { ...good, rows: [[good.rows[0][0], good.rows[0][1], 1, ...good.rows[0].slice(3)]] },
      { ...good, proxies: [['p1', 'orders']] },
      { ...good, time0: undefined },
      { ...good, time0: 0.5 },
    ];
    for (const entry of malformed) expect(authRecordEntrySchema.safeParse(entry).success).toBe(false);
    expect(authRecordEntryCount(malformed[2])).toBe(2);
    expect([null, 'x', 3, {}].map((v) => authRecordEntrySchema.safeParse(v).success)).toEqual([false, false, false, false]);
  });

  it('holds one environment and Gateway per entry', () => {
    expect(() => authRecordEntryJson([record(1), { ...record(2), gatewayId: 'gw-2' }])).toThrow('one entry');
    expect(authRecordRowJson(record(1), 0, 0)).not.toContain('prod');
  });
});
