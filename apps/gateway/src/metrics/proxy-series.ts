export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

/**
 * One proxy's request counts and upstream latencies as plain numbers. The request path only
 * increments them; Prometheus text is built from them when /metrics is scraped. prom-client's own
 * counters and histograms hash their label set into a fresh string on every inc/observe, even
 * through a `labels()` handle: measurable on a path that costs a few dozen microseconds.
 */
export class ProxySeries {
  readonly responses = new Float64Array(STATUS_CLASSES.length);
  /** Per bucket, not cumulative (cumulated at scrape time); the last slot is +Inf. */
  readonly latency = new Float64Array(LATENCY_BUCKETS.length + 1);
  latencySum = 0;
  latencyCount = 0;
  /** `proxy="…",base_path="…"`, escaped once: a scrape only concatenates. */
  readonly labels: string;

  constructor(
    readonly proxy: string,
    readonly basePath: string,
  ) {
    this.labels = `proxy="${labelValue(proxy)}",base_path="${labelValue(basePath)}"`;
  }

  /** False until the proxy answered a request: an idle proxy's series are not exposed. */
  get used(): boolean {
    return this.latencyCount > 0 || this.responses.some((n) => n > 0);
  }

  countResponse(status: number): void {
    const index = ((status / 100) | 0) - 1;
    if (index >= 0 && index < STATUS_CLASSES.length) this.responses[index]++;
  }

  observeUpstream(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]) i++;
    this.latency[i]++;
    this.latencySum += seconds;
    this.latencyCount++;
  }
}

const REQUESTS = 'idm_gateway_requests_total';
const UPSTREAM = 'idm_gateway_upstream_duration_seconds';
/** Series rendered per event-loop turn: a scrape of 10,000 proxies must not hold the proxy path. */
const SERIES_PER_TURN = 200;

/**
 * Prometheus text for the proxies' series: `idm_gateway_requests_total` (counter, by status class)
 * and `idm_gateway_upstream_duration_seconds` (histogram). Written here rather than through
 * prom-client, whose registry builds a labels object per sample and formats them all in one turn
 * (1.1-1.5 s and 18 MB per scrape at 10,000 proxies): the label text is escaped once per series,
 * proxies that never answered a request are left out, and the work yields every SERIES_PER_TURN
 * series.
 */
export async function renderProxySeries(series: Iterable<ProxySeries>): Promise<string> {
  const requests = [`# HELP ${REQUESTS} Proxied requests answered, by proxy and status class\n# TYPE ${REQUESTS} counter\n`];
  const upstream = [`# HELP ${UPSTREAM} Time from sending the request upstream to receiving its response headers\n# TYPE ${UPSTREAM} histogram\n`];
  let rendered = 0;
  for (const s of [...series]) {
    if (!s.used) continue;
    let lines = '';
    for (let i = 0; i < STATUS_CLASSES.length; i++) lines += `${REQUESTS}{${s.labels},status_class="${STATUS_CLASSES[i]}"} ${s.responses[i]}\n`;
    requests.push(lines);
    lines = '';
    let cumulative = 0;
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
      cumulative += s.latency[i];
      lines += `${UPSTREAM}_bucket{${s.labels},le="${LATENCY_BUCKETS[i]}"} ${cumulative}\n`;
    }
    lines += `${UPSTREAM}_bucket{${s.labels},le="+Inf"} ${s.latencyCount}\n${UPSTREAM}_sum{${s.labels}} ${s.latencySum}\n${UPSTREAM}_count{${s.labels}} ${s.latencyCount}\n`;
    upstream.push(lines);
    if (++rendered % SERIES_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return requests.join('') + upstream.join('');
}

/** The text format's label value escaping: backslash, double quote, line feed. */
function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
