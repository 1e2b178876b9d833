import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Per-proxy metric handles, resolved at compile time so a request does no label lookup. */
export interface ProxyMetrics {
  countResponse(status: number): void;
  observeUpstream(seconds: number): void;
}

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** The Gateway's Prometheus registry (its own, so tests and embedders never share globals). */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'idm_gateway_requests_total',
    help: 'Proxied requests answered, by proxy and status class',
    labelNames: ['proxy', 'base_path', 'status_class'] as const,
    registers: [this.registry],
  });
  private readonly upstreamDuration = new Histogram({
    name: 'idm_gateway_upstream_duration_seconds',
    help: 'Time from sending the request upstream to receiving its response headers',
    labelNames: ['proxy', 'base_path'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly configRevision = new Gauge({ name: 'idm_gateway_config_revision', help: 'Revision of the configuration being served', registers: [this.registry] });
  readonly configApplied = new Counter({
    name: 'idm_gateway_config_applied_total',
    help: 'Configuration revisions applied, by how they arrived',
    labelNames: ['mode'] as const,
    registers: [this.registry],
  });
  /** Rate-limit checks Redis did not answer; each was decided by the rule's fail-open/closed setting. */
  readonly rateLimitStoreErrors = new Counter({
    name: 'idm_gateway_rate_limit_store_errors_total',
    help: 'Rate-limit checks that could not reach Redis (decided by the rule: fail open or closed)',
    registers: [this.registry],
  });
  /** Responses that matched no proxy (404) or came before any config was loaded. */
  readonly unmatched: ProxyMetrics;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.unmatched = this.forProxy('', '');
  }

  forProxy(name: string, basePath: string): ProxyMetrics {
    const byClass = STATUS_CLASSES.map((c) => this.requests.labels(name, basePath, c));
    const latency = this.upstreamDuration.labels(name, basePath);
    return {
      countResponse: (status) => byClass[((status / 100) | 0) - 1]?.inc(),
      observeUpstream: (seconds) => latency.observe(seconds),
    };
  }

  /** Drops the series of a proxy that left the configuration. */
  releaseProxy(name: string, basePath: string): void {
    for (const c of STATUS_CLASSES) this.requests.remove(name, basePath, c);
    this.upstreamDuration.remove(name, basePath);
  }
}
