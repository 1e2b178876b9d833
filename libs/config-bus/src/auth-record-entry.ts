import { z } from 'zod';
import { authRecordBatchSchema, type AuthRecord } from './auth-record.message';

/**
 * The text of one stream entry (field `r`) and of one live-channel message: a batch of one
 * Gateway's records. Format 2 (what Gateways write):
 *
 *   {"v":2,"environment":"…","gatewayId":"…","time0":<epoch ms>,"rows":[[<AUTH_RECORD_ROW>],…],
 *    "proxies":[[proxyId, proxyName, projectId],…]}
 *
 * The fields every record of a Gateway shares are in the envelope once, so are the proxies the
 * batch's records name (a row holds an index into `proxies`), and each record is a positional
 * array without keys, its time relative to `time0` and its latency in whole microseconds (small
 * integers: cheaper to write than epoch milliseconds and fractions). About 40 % of the bytes of a
 * JSON object per record, and `JSON.stringify` of a short array of scalars costs well under half
 * of the keyed object's: those two were most of what a record cost the Gateway's request path
 * (bench/README.md, issue #17). Readers (the indexers, the Manager's tail, tests) go through
 * `authRecordEntrySchema`, which expands the rows into records and validates them as before;
 * format 1 (a JSON array of record objects, written by Gateways older than this format) is still
 * read, so entries queued before an upgrade are indexed too.
 */
export const AUTH_RECORD_ENTRY_VERSION = 2;

/** A row's positions. `proxy`: index into the entry's `proxies`; `time`: ms after `time0`; `latencyUs`: µs. */
export const AUTH_RECORD_ROW = [
  'id',
  'time',
  'proxy',
  'policy',
  'outcome',
  'reason',
  'status',
  'credentialId',
  'username',
  'keyPrefix',
  'clientId',
  'issuer',
  'tokenType',
  'clientIp',
  'country',
  'userAgent',
  'requestId',
  'latencyUs',
  'llm',
] as const;

/** A proxy as an entry's `proxies` lists it. */
export type AuthRecordEntryProxy = [proxyId: string | null, proxyName: string | null, projectId: string | null];

/** One record's row, as JSON text (an array literal); `proxy` is its proxy's index in the entry's `proxies`. */
export function authRecordRowJson(r: AuthRecord, time0: number, proxy: number): string {
  return JSON.stringify([
    r.id,
    r.time - time0,
    proxy,
    r.policy,
    r.outcome,
    r.reason,
    r.status,
    r.credentialId,
    r.username,
    r.keyPrefix,
    r.clientId ?? null,
    r.issuer,
    r.tokenType,
    r.clientIp,
    r.country,
    r.userAgent,
    r.requestId,
    // The factory keeps latency to the microsecond: whole µs carry it exactly (k / 1000 again on reading).
    Math.round(r.latencyMs * 1000),
    r.llm ?? null,
  ]);
}

/** What an entry's text starts with, up to its first row; `authRecordEntryTail` closes it. */
export function authRecordEntryHead(environment: string, gatewayId: string, time0: number): string {
  return `{"v":${AUTH_RECORD_ENTRY_VERSION},"environment":${JSON.stringify(environment)},"gatewayId":${JSON.stringify(gatewayId)},"time0":${time0},"rows":[`;
}

/** What closes an entry: the end of its rows, and the proxies they index. */
export function authRecordEntryTail(proxies: readonly AuthRecordEntryProxy[]): string {
  return `],"proxies":${JSON.stringify(proxies)}}`;
}

/** An entry's text for records of one environment and Gateway (tests, benchmarks; the Gateway builds its entries incrementally). */
export function authRecordEntryJson(records: readonly AuthRecord[]): string {
  const [first] = records;
  if (first === undefined) throw new Error('an entry holds at least one record');
  if (records.some((r) => r.environment !== first.environment || r.gatewayId !== first.gatewayId)) throw new Error('one entry, one environment and Gateway');
  const proxies: AuthRecordEntryProxy[] = [];
  const rows = records.map((r) => {
    let at = proxies.findIndex(([id, name, project]) => id === r.proxyId && name === r.proxyName && project === r.projectId);
    if (at < 0) at = proxies.push([r.proxyId, r.proxyName, r.projectId]) - 1;
    return authRecordRowJson(r, first.time, at);
  });
  return authRecordEntryHead(first.environment, first.gatewayId, first.time) + rows.join(',') + authRecordEntryTail(proxies);
}

/**
 * Format 2's rows as record objects (format 1 as it is); anything else is returned unchanged, for
 * the schema to refuse. A row of the wrong length, or naming no proxy of the entry, stays an
 * array, which the schema refuses too.
 */
function expanded(value: unknown): unknown {
  if (Array.isArray(value) || value === null || typeof value !== 'object') return value;
  const entry = value as { v?: unknown; environment?: unknown; gatewayId?: unknown; time0?: unknown; rows?: unknown; proxies?: unknown };
  const { environment, gatewayId, time0, rows, proxies } = entry;
  if (entry.v !== AUTH_RECORD_ENTRY_VERSION || typeof time0 !== 'number' || !Array.isArray(rows) || rows.length > 10_000 || !Array.isArray(proxies)) return value;
  const listed: readonly unknown[] = proxies;
  return rows.map((item: unknown) => {
    if (!Array.isArray(item) || item.length !== AUTH_RECORD_ROW.length) return item;
    const row: readonly unknown[] = item;
    const named: unknown = typeof row[2] === 'number' ? listed[row[2]] : undefined;
    if (!Array.isArray(named) || named.length !== 3) return row;
    const proxy: readonly unknown[] = named;
    return {
      id: row[0],
      time: typeof row[1] === 'number' ? time0 + row[1] : row[1],
      environment,
      gatewayId,
      proxyId: proxy[0],
      proxyName: proxy[1],
      projectId: proxy[2],
      policy: row[3],
      outcome: row[4],
      reason: row[5],
      status: row[6],
      credentialId: row[7],
      username: row[8],
      keyPrefix: row[9],
      clientId: row[10],
      issuer: row[11],
      tokenType: row[12],
      clientIp: row[13],
      country: row[14],
      userAgent: row[15],
      requestId: row[16],
      latencyMs: typeof row[17] === 'number' ? row[17] / 1000 : row[17],
      llm: row[18],
    };
  });
}

/** A parsed entry (either format) as its validated records. */
export const authRecordEntrySchema = z.preprocess(expanded, authRecordBatchSchema);

/** Records an entry's text claims to hold, valid or not (what its Gateway counted in): rows, or array items. */
export function authRecordEntryCount(value: unknown): number {
  if (Array.isArray(value)) return value.length;
  const rows = (value as { rows?: unknown } | null)?.rows;
  return Array.isArray(rows) ? rows.length : 0;
}
