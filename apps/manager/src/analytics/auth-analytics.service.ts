import { Inject, Injectable, Logger } from '@nestjs/common';
import { AUTH_RECORDS_LIVE_CHANNEL, authRecordEntrySchema, type AuthRecord } from '@idm/config-bus';
import { AUTH_ANALYTICS_BUCKETS, AUTH_ANALYTICS_MAX_BUCKETS, type AuthAnalytics, type AuthAnalyticsQuery, type AuthRecordFilter } from '@idm/domain';
import { filter, from, ignoreElements, merge, mergeMap, switchMap, tap, timer, type Observable } from 'rxjs';
import { PermissionService } from '../governance/permission.service';
import { LiveFeed } from '../live/live-feed';
import { ProblemError } from '../problems/problem.error';
import { AuthRecordRepository, type AuthRecordWindow } from '../repositories/auth-record.repository';
import { AUTH_RECORD_READS, type AuthRecordReads } from './auth-record-reads';
import { authRecordScope, recordFilter, type AuthRecordScope } from './auth-record-visibility';

const DAY_MS = 86_400_000;
/** A team tail re-reads its team's proxies and credentials this often (ones added later show up). */
const TEAM_SCOPE_REFRESH_MS = 10_000;
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const iso = (v: unknown): string => (v instanceof Date ? v : new Date(v as string)).toISOString();

/**
 * Authentication analytics over the records the indexers wrote, and the live tail of the records
 * every Gateway publishes. Both show only what the reader holds `analytics:read` for: whole
 * projects, or the proxies and credentials of its teams.
 */
@Injectable()
export class AuthAnalyticsService {
  private readonly logger = new Logger('AuthAnalytics');

  constructor(
    private readonly records: AuthRecordRepository,
    @Inject(AUTH_RECORD_READS) private readonly store: AuthRecordReads,
    private readonly permissions: PermissionService,
    private readonly live: LiveFeed,
  ) {}

  async query(q: AuthAnalyticsQuery): Promise<AuthAnalytics> {
    this.permissions.checkAnywhere('analytics:read');
    const scope = await this.scope();
    const window = windowOf(q);
    const empty: AuthAnalytics = {
      from: window.from.toISOString(),
      to: window.to.toISOString(),
      bucket: q.bucket,
      source: this.store.source,
      total: 0,
      series: [],
      byOutcome: [],
      byReason: [],
      byCredential: [],
      byProxy: [],
      byIssuer: [],
      topFailingCredentials: [],
      topFailingAddresses: [],
      tokenSpendByCredential: [],
    };
    if (!(await this.store.exists())) return empty;
    const r = await this.unavailableAs503(() => this.store.analytics(scope, window));
    const series = new Map<string, AuthAnalytics['series'][number]>();
    for (const row of r.series) {
      const start = iso(row.start);
      const entry = series.get(start) ?? { start, success: 0, denied: 0, throttled: 0, blocked: 0 };
      entry[row.outcome as 'success'] = Number(row.count);
      series.set(start, entry);
    }
    const byCredential = (rows: typeof r.byCredential) => rows.map((x) => ({ credentialId: str(x.credential_id), username: str(x.username), count: Number(x.count) }));
    return {
      ...empty,
      total: r.byOutcome.reduce((sum, x) => sum + Number(x.count), 0),
      series: [...series.values()],
      byOutcome: r.byOutcome.map((x) => ({ outcome: String(x.outcome), count: Number(x.count) })),
      byReason: r.byReason.map((x) => ({ reason: str(x.reason), count: Number(x.count) })),
      byCredential: byCredential(r.byCredential),
      byProxy: r.byProxy.map((x) => ({ proxyId: str(x.proxy_id), proxyName: str(x.proxy_name), count: Number(x.count) })),
      byIssuer: r.byIssuer.map((x) => ({ issuer: str(x.issuer), count: Number(x.count) })),
      topFailingCredentials: byCredential(r.topCredentials),
      topFailingAddresses: r.topAddresses.map((x) => ({ clientIp: String(x.client_ip), count: Number(x.count) })),
      tokenSpendByCredential: r.spend.map((x) => ({ credentialId: str(x.credential_id), username: str(x.username), totalTokens: Number(x.total) })),
    };
  }

  /** Every record any Gateway decides from now on that the reader may see and the filter selects. */
  tail(f: AuthRecordFilter): Observable<AuthRecord> {
    this.permissions.checkAnywhere('analytics:read');
    const read = this.permissions.readFilter('analytics:read'); // now: the actor's context does not follow into the subscription
    const records = this.live.messages(AUTH_RECORDS_LIVE_CHANNEL).pipe(mergeMap((message) => this.parse(message)));
    if (read.all || read.teams.length === 0) return records.pipe(filter(recordFilter({ all: read.all, projectIds: read.projectIds, proxyIds: [], credentialIds: [] }, f)));
    let selects: ((r: AuthRecord) => boolean) | null = null;
    const refreshed = timer(0, TEAM_SCOPE_REFRESH_MS).pipe(
      switchMap(() => from(authRecordScope(read, (teams) => this.records.teamResources(teams)).catch(() => null))),
      tap((scope) => {
        if (scope !== null) selects = recordFilter(scope, f);
      }),
      ignoreElements(),
    );
    return merge(refreshed, records.pipe(filter((r) => selects !== null && selects(r))));
  }

  /** The store down or refusing (Elasticsearch unreachable): a 503 problem, never a 500 or its message. */
  private async unavailableAs503<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (err) {
      if (err instanceof ProblemError) throw err;
      this.logger.warn(`auth record store (${this.store.source}) failed: ${(err as Error).message}`);
      throw new ProblemError(503, 'analytics_unavailable', 'Analytics unavailable', `the auth record store (${this.store.source}) did not answer; try again`);
    }
  }

  private scope(): Promise<AuthRecordScope> {
    return authRecordScope(this.permissions.readFilter('analytics:read'), (teams) => this.records.teamResources(teams));
  }

  private parse(message: string): AuthRecord[] {
    try {
      // A Gateway's batch as it queued it (either entry format: rows under an envelope, or record objects).
      const parsed = authRecordEntrySchema.safeParse(JSON.parse(message));
      if (parsed.success) return parsed.data;
    } catch {
      // fall through
    }
    this.logger.warn('malformed auth record batch on the live channel dropped');
    return [];
  }
}

function windowOf(q: AuthAnalyticsQuery): AuthRecordWindow {
  const to = q.to === undefined ? new Date() : new Date(q.to);
  const from = q.from === undefined ? new Date(to.getTime() - DAY_MS) : new Date(q.from);
  if (from.getTime() >= to.getTime()) throw new ProblemError(400, 'invalid_window', 'Invalid window', '`from` must be before `to`');
  const bucketMs = AUTH_ANALYTICS_BUCKETS[q.bucket];
  const buckets = Math.ceil((to.getTime() - from.getTime()) / bucketMs);
  if (buckets > AUTH_ANALYTICS_MAX_BUCKETS) {
    throw new ProblemError(
      400,
      'too_many_buckets',
      'Too many buckets',
      `${buckets} ${q.bucket} buckets; at most ${AUTH_ANALYTICS_MAX_BUCKETS}: ask for a coarser bucket or a shorter window`,
    );
  }
  const { from: _from, to: _to, bucket: _bucket, top, ...filter } = q;
  return { from, to, bucketMs, filter, top };
}
