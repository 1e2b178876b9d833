import { AUTH_RECORD_DATA_STREAM } from '@idm/auth-record-indexing';
import type { Client, estypes } from '@elastic/elasticsearch';
import type { AuthRecordScope } from './auth-record-visibility';
import type { AuthRecordReads, AuthRecordRows, AuthRecordWindow } from './auth-record-reads';

type Aggregations = Record<string, { buckets?: Bucket[]; [sub: string]: unknown }>;
interface Bucket {
  key: string | number | (string | number | null)[];
  doc_count: number;
  [sub: string]: unknown;
}

/** Null fields are absent from terms aggregations unless given a stand-in: this one, read back as null. */
const NONE = '';
const orNull = (v: unknown): string | null => (v === NONE || (typeof v !== 'string' && typeof v !== 'number') ? null : String(v));

/**
 * The auth records in Elasticsearch (data stream `analytic-auth-record`, written by the indexers)
 * read with one `_search` of aggregations: the same questions as the PostgreSQL repository, with
 * the reader's scope and the filters in the query, and answers in the same rows.
 */
export class ElasticsearchAuthRecords implements AuthRecordReads {
  readonly source = 'elasticsearch';

  constructor(private readonly client: Client) {}

  /** The search tolerates a data stream not created yet (no indexer ran): every count is zero. */
  exists(): Promise<boolean> {
    return Promise.resolve(true);
  }

  async analytics(scope: AuthRecordScope, w: AuthRecordWindow): Promise<AuthRecordRows> {
    const answer = await this.client.search({
      index: AUTH_RECORD_DATA_STREAM,
      size: 0,
      track_total_hits: true,
      ignore_unavailable: true,
      allow_no_indices: true,
      query: searchQuery(scope, w),
      aggs: aggregations(w),
    });
    const a = (answer.aggregations ?? {}) as unknown as Aggregations;
    // An aggregation may be absent altogether (no index yet): no buckets.
    const buckets = (name: string, inside?: string): Bucket[] => ((inside ? (a[inside]?.[name] as { buckets?: Bucket[] } | undefined) : a[name])?.buckets ?? []) as Bucket[];
    const pair = (b: Bucket) => (b.key as (string | null)[]).map(orNull);
    const ranked = (name: string, inside: string | undefined, columns: [string, string]) =>
      buckets(name, inside).map((b) => {
        const [first, second] = pair(b);
        return { [columns[0]]: first, [columns[1]]: second, count: b.doc_count };
      });
    return {
      series: buckets('series').flatMap((b) =>
        ((b.by_outcome as { buckets?: Bucket[] } | undefined)?.buckets ?? []).map((o) => ({ start: new Date(b.key as number), outcome: o.key, count: o.doc_count })),
      ),
      byOutcome: buckets('by_outcome').map((b) => ({ outcome: b.key, count: b.doc_count })),
      byReason: buckets('by_reason').map((b) => ({ reason: orNull(b.key), count: b.doc_count })),
      byCredential: ranked('ranked', 'by_credential', ['credential_id', 'username']),
      byProxy: buckets('by_proxy').map((b) => ({ proxy_id: pair(b)[0], proxy_name: pair(b)[1], count: b.doc_count })),
      byIssuer: buckets('by_issuer').map((b) => ({ issuer: b.key, count: b.doc_count })),
      topCredentials: ranked('ranked', 'top_failing_credentials', ['credential_id', 'username']),
      topAddresses: buckets('ranked', 'top_failing_addresses').map((b) => ({ client_ip: b.key, count: b.doc_count })),
      spend: buckets('ranked', 'spend').map((b) => ({ credential_id: pair(b)[0], username: pair(b)[1], total: (b.total as { value: number }).value })),
    };
  }
}

/** The window, the reader's scope (projects, or its teams' proxies and credentials) and the filters. */
export function searchQuery(scope: AuthRecordScope, w: AuthRecordWindow): estypes.QueryDslQueryContainer {
  const f = w.filter;
  const filter: estypes.QueryDslQueryContainer[] = [{ range: { '@timestamp': { gte: w.from.toISOString(), lt: w.to.toISOString() } } }];
  if (!scope.all)
    filter.push({
      bool: {
        should: [{ terms: { project_id: [...scope.projectIds] } }, { terms: { proxy_id: [...scope.proxyIds] } }, { terms: { credential_id: [...scope.credentialIds] } }],
        minimum_should_match: 1,
      },
    });
  for (const [field, value] of [
    ['environment', f.environment],
    ['project_id', f.projectId],
    ['proxy_id', f.proxyId],
    ['credential_id', f.credentialId],
    ['policy', f.policy],
    ['client_id', f.clientId],
    ['outcome', f.outcome],
  ] as const)
    if (value !== undefined) filter.push({ term: { [field]: value } });
  return { bool: { filter } };
}

/** The aggregations: buckets aligned on `from` as PostgreSQL's date_bin aligns them. */
export function aggregations(w: AuthRecordWindow): Record<string, estypes.AggregationsAggregationContainer> {
  const size = w.top;
  const byName = (fields: [string, string]): { multi_terms: estypes.AggregationsMultiTermsAggregation } => ({
    multi_terms: { terms: fields.map((field) => ({ field, missing: NONE })), size },
  });
  const named: estypes.QueryDslQueryContainer = { bool: { should: [{ exists: { field: 'credential_id' } }, { exists: { field: 'username' } }], minimum_should_match: 1 } };
  const refused: estypes.QueryDslQueryContainer = { bool: { must_not: [{ term: { outcome: 'success' } }] } };
  return {
    series: {
      date_histogram: { field: '@timestamp', fixed_interval: `${w.bucketMs}ms`, offset: `${w.from.getTime() % w.bucketMs}ms`, min_doc_count: 1 },
      aggs: { by_outcome: { terms: { field: 'outcome', size: 4 } } },
    },
    by_outcome: { terms: { field: 'outcome', size: 4 } },
    by_reason: { terms: { field: 'reason', missing: NONE, size } },
    by_credential: { filter: named, aggs: { ranked: byName(['credential_id', 'username']) } },
    by_proxy: byName(['proxy_id', 'proxy_name']),
    by_issuer: { terms: { field: 'issuer', size } },
    top_failing_credentials: { filter: { bool: { filter: [named, refused] } }, aggs: { ranked: byName(['credential_id', 'username']) } },
    top_failing_addresses: { filter: refused, aggs: { ranked: { terms: { field: 'client_ip', size } } } },
    spend: {
      filter: { exists: { field: 'llm.total_tokens' } },
      aggs: {
        ranked: { multi_terms: { ...byName(['credential_id', 'username']).multi_terms, order: { total: 'desc' } }, aggs: { total: { sum: { field: 'llm.total_tokens' } } } },
      },
    },
  };
}
