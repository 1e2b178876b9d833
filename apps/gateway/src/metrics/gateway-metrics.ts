import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { ProxySeries, renderProxySeries } from './proxy-series';

/** Per-proxy metric handles, resolved at compile time so a request does no label lookup. */
export interface ProxyMetrics {
  countResponse(status: number): void;
  observeUpstream(seconds: number): void;
}

/** The Gateway's Prometheus registry (its own, so tests and embedders never share globals). */
export class GatewayMetrics {
  readonly registry = new Registry();
  /** Per proxy (name and base path); kept across revisions so counts do not restart. */
  private readonly series = new Map<string, ProxySeries>();
  readonly configRevision = new Gauge({ name: 'idm_gateway_config_revision', help: 'Revision of the configuration being served', registers: [this.registry] });
  /** `config.changed` messages received; only the Gateway's own environment's reach it (one channel per environment). */
  readonly configMessages = new Counter({
    name: 'idm_gateway_config_messages_total',
    help: 'config.changed messages received on the environment channel',
    registers: [this.registry],
  });
  readonly configApplied = new Counter({
    name: 'idm_gateway_config_applied_total',
    help: 'Configuration revisions applied, by how they arrived',
    labelNames: ['mode'] as const,
    registers: [this.registry],
  });
  /**
   * The longest event-loop delay of the last full load (reading the snapshot, filling the
   * directory, compiling the routes), i.e. how long a request arriving then could wait at most
   * (issue #13: under 50 ms at a million credentials). Set by ConfigSync when a load is applied.
   */
  readonly configLoadLongestDelay = new Gauge({
    name: 'idm_gateway_config_load_longest_delay_seconds',
    help: 'Longest event-loop delay during the last full configuration load',
    registers: [this.registry],
  });
  /** Rate-limit checks Redis did not answer; each was decided by the rule's fail-open/closed setting. */
  readonly rateLimitStoreErrors = new Counter({
    name: 'idm_gateway_rate_limit_store_errors_total',
    help: 'Rate-limit checks that could not reach Redis (decided by the rule: fail open or closed)',
    registers: [this.registry],
  });
  /** Auth records by fate: queued to the indexers, or dropped (queue over its bound, or the in-memory buffer full while Redis was away). */
  readonly authRecords = new Counter({
    name: 'idm_gateway_auth_records_total',
    help: 'Auth records by result: queued, dropped_queue_full, dropped_buffer_full',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  /** Auth records held in memory, not yet in Redis (read at scrape time from whoever owns the buffer). */
  authRecordsBufferedNow: () => number = () => 0;
  readonly authRecordsBuffered: Gauge = new Gauge({
    name: 'idm_gateway_auth_records_buffered',
    help: 'Auth records held in memory, not yet queued',
    registers: [this.registry],
    collect: (): void => this.authRecordsBuffered.set(this.authRecordsBufferedNow()),
  });
  /** Tokens charged for LLM calls (llm-route), per proxy, kind (prompt, completion) and source (upstream usage or estimate). */
  readonly llmTokens = new Counter({
    name: 'idm_gateway_llm_tokens_total',
    help: 'LLM tokens charged to quotas, by proxy, kind (prompt|completion) and source (upstream|estimate)',
    labelNames: ['proxy', 'kind', 'source'] as const,
    registers: [this.registry],
  });
  /** Responses that matched no proxy (404) or came before any config was loaded. */
  readonly unmatched: ProxyMetrics;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.unmatched = this.forProxy('', '');
  }

  /** The scrape: prom-client's registry (process, config, auth records, LLM), then every proxy's series. */
  async render(): Promise<string> {
    return (await this.registry.metrics()) + (await renderProxySeries(this.series.values()));
  }

  forProxy(name: string, basePath: string): ProxyMetrics {
    const key = `${name}\u0000${basePath}`;
    let series = this.series.get(key);
    if (series === undefined) this.series.set(key, (series = new ProxySeries(name, basePath)));
    return series;
  }

  /** Proxied requests answered so far, every proxy's series together (drops when a proxy leaves and its series goes). */
  proxiedResponses(): number {
    let total = 0;
    for (const series of this.series.values()) for (const count of series.responses) total += count;
    return total;
  }

  /** Drops the series of a proxy that left the configuration. */
  releaseProxy(name: string, basePath: string): void {
    this.series.delete(`${name}\u0000${basePath}`);
  }
}
