// The scale benchmark's figures against issue #13's targets: a markdown table, and the block of
// bench/README.md's "Scale" section that holds one labelled run (other runs' blocks are kept).
import { readFileSync, writeFileSync } from 'node:fs';

export const SCALE_TARGETS = {
  changeAppliedP99Ms: 100,
  changeApiP99Ms: 100,
  redisBytesPerChange: 8 * 1024,
  coldStartMs: 60_000,
  rssBytes: 1.5 * 2 ** 30,
  hotPathRatio: 0.95,
  bulkMs: 60_000,
  /** No event-loop stall (GC pause included) over this while serving or loading. */
  stallMs: 50,
};

const n = (x, digits = 0) => (x === null || x === undefined ? '–' : Number(x).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const verdict = (value, ok) => (value === null || value === undefined ? 'not measured' : ok ? 'met' : '**NOT met**');
const mb = (bytes) => (bytes === null || bytes === undefined ? null : bytes / 2 ** 20);

/** One row per figure: [what, target, measured, verdict]. `r` is the run's result object. */
export function scaleRows(r) {
  const t = SCALE_TARGETS;
  const c = r.changes ?? {};
  const g = r.gateways ?? {};
  const worstStart = g.coldStartMs?.length ? Math.max(...g.coldStartMs) : null;
  const worstRss = g.rssBytes?.length ? Math.max(...g.rssBytes) : null;
  const h = r.hotPath ?? {};
  const p = r.pauses ?? {};
  const counted = (c) => `${c.pauses} (${c.over}, ${n(c.totalMs)} ms)`;
  const pause = (x) => (x ? `${n(x.ms, 1)} ms (${x.kind})` : '–');
  const worstPause = p.gcColdStart ? Math.max(...[...p.gcColdStart, ...p.gcServing].map((x) => x?.ms ?? 0)) : null;
  const worstDelay = p.eventLoopChangesMs ? Math.max(p.eventLoopHotPathMs ?? 0, ...p.eventLoopChangesMs.map((x) => x ?? 0)) : null;
  return [
    ['seed with SQL (credentials + keys + proxies)', '', r.seedMs == null ? (r.failures?.seed ?? '–') : `${n(r.seedMs / 1000, 1)} s`, ''],
    ['Manager restart -> reconciliation published and served by a running Gateway', '', r.publishMs == null ? (r.failures?.publish ?? '–') : `${n(r.publishMs / 1000, 1)} s`, ''],
    [
      `credential change applied on both Gateways, p50 / p99 (${c.measured ?? 0} of ${r.settings.changes} changes)`,
      `p99 < ${t.changeAppliedP99Ms} ms`,
      c.appliedP50Ms == null
        ? (c.failure ?? '–')
        : `${n(c.appliedP50Ms, 1)} / ${n(c.appliedP99Ms, 1)} ms${c.firstChange ? `; the first change after the Manager's restart (warm-up, not counted): ${n(c.firstChange.appliedMs, 1)} ms, its PATCH ${n(c.firstChange.apiMs, 1)} ms` : ''}`,
      verdict(c.appliedP99Ms, c.appliedP99Ms < t.changeAppliedP99Ms && !c.failure),
    ],
    [
      'Manager API latency of that PATCH, p50 / p99',
      `p99 < ${t.changeApiP99Ms} ms`,
      c.apiP50Ms == null
        ? '–'
        : `${n(c.apiP50Ms, 1)} / ${n(c.apiP99Ms, 1)} ms${c.apiOwnP99Ms == null ? '' : `; less the Manager's waits for a CPU (schedstat): ${n(c.apiOwnP50Ms, 1)} / ${n(c.apiOwnP99Ms, 1)} ms`}`,
      verdict(c.apiP99Ms, c.apiP99Ms < t.changeApiP99Ms),
    ],
    [
      'bytes over Redis per change (in + out, idle traffic subtracted)',
      `< ${n(t.redisBytesPerChange)} B`,
      c.redisBytesPerChange == null ? '–' : `${n(c.redisBytesPerChange)} B (raw ${n(c.redisRawBytesPerChange)} B)`,
      verdict(c.redisBytesPerChange, c.redisBytesPerChange < t.redisBytesPerChange),
    ],
    [
      'Gateway cold start to /health/ready (each Gateway)',
      `< ${t.coldStartMs / 1000} s`,
      g.coldStartMs?.length ? g.coldStartMs.map((ms) => `${n(ms / 1000, 1)} s`).join(', ') : (r.failures?.gateways ?? '–'),
      verdict(worstStart, worstStart < t.coldStartMs),
    ],
    [
      'Gateway RSS with the credentials loaded (each Gateway)',
      `< ${n(mb(t.rssBytes))} MB`,
      g.rssBytes?.length ? g.rssBytes.map((b) => `${n(mb(b))} MB`).join(', ') : '–',
      verdict(worstRss, worstRss < t.rssBytes),
    ],
    ['Gateway RSS per credential (vs the 10-credential Gateway)', '', g.bytesPerCredential == null ? '–' : `${n(g.bytesPerCredential)} B`, ''],
    [
      `proxy hot path, api-key RPS with ${n(r.settings.credentials)} / with 10 credentials (median of ${h.rounds?.length ?? 0} rounds${h.measured ? `, ${h.measured}` : ''})`,
      `>= ${t.hotPathRatio}`,
      h.medianRatio == null ? (h.failure ?? '–') : `${n(h.medianRatio, 3)} (${h.rounds.map((x) => `${n(x.big.rps)}/${n(x.small.rps)}`).join(', ')} req/s)`,
      verdict(h.medianRatio, h.medianRatio >= t.hotPathRatio),
    ],
    [
      'storage after publication: PostgreSQL database / Redis used_memory (private server)',
      '',
      r.storage ? `${n(mb(r.storage.postgresBytes))} MB / ${r.storage.redisBytes == null ? '–' : `${n(mb(r.storage.redisBytes))} MB`}` : '–',
      '',
    ],
    [
      'longest GC pause (--trace-gc) during the cold start / while serving (each Gateway)',
      `< ${t.stallMs} ms`,
      p.gcColdStart
        ? `${p.gcColdStart.map(pause).join(', ')} / ${p.gcServing.map(pause).join(', ')}${p.reference ? `; 10-credential reference Gateway: ${pause(p.reference.gcColdStart)} / ${pause(p.reference.gcServing)}` : ''}${p.gcColdStartCount ? `; pauses (over 50 ms, sum): cold start ${p.gcColdStartCount.map(counted).join(', ')}, serving ${p.gcServingCount.map(counted).join(', ')}` : ''}`
        : '–',
      verdict(worstPause, worstPause < t.stallMs),
    ],
    [
      'longest event-loop delay during the full load, read to published (each Gateway; its idm_gateway_config_load_longest_delay_seconds)',
      `< ${t.stallMs} ms`,
      p.eventLoopFullLoadMs
        ? `${p.eventLoopFullLoadMs.map((x) => n(x, 1)).join(', ')} ms${p.reference?.eventLoopFullLoadMs != null ? `; 10-credential reference Gateway: ${n(p.reference.eventLoopFullLoadMs, 1)} ms` : ''}`
        : '–',
      p.eventLoopFullLoadMs
        ? verdict(
            Math.max(...p.eventLoopFullLoadMs.map((x) => x ?? Infinity)),
            p.eventLoopFullLoadMs.every((x) => x != null && x < t.stallMs),
          )
        : '',
    ],
    [
      // Reported, no target: the window also holds the process's own start (Nest's bootstrap, the
      // route table, the Redis connections), which a 10-credential Gateway has as well.
      'longest event-loop delay from start to the first scrape after ready (prom-client, 10 ms timer; each Gateway)',
      '',
      p.eventLoopColdStartMs
        ? `${p.eventLoopColdStartMs.map((x) => n(x, 1)).join(', ')} ms${p.reference?.eventLoopColdStartMs != null ? `; 10-credential reference Gateway: ${n(p.reference.eventLoopColdStartMs, 1)} ms` : ''}`
        : '–',
      '',
    ],
    [
      'longest event-loop delay while serving: hot path (Gateway 1) / changes (each Gateway)',
      `< ${t.stallMs} ms`,
      p.eventLoopChangesMs
        ? `${n(p.eventLoopHotPathMs, 1)} / ${p.eventLoopChangesMs.map((x) => `${n(x, 1)}`).join(', ')} ms${p.reference ? `; reference Gateway, hot path: ${n(p.reference.eventLoopHotPathMs, 1)} ms` : ''}`
        : '–',
      verdict(worstDelay, worstDelay < t.stallMs),
    ],
    [
      `bulk import of ${n(r.settings.bulk)} credentials (import endpoint)`,
      `< ${t.bulkMs / 1000} s`,
      r.bulk?.ms == null ? (r.bulk?.failure ?? '–') : `${n(r.bulk.ms / 1000, 1)} s`,
      verdict(r.bulk?.timedOut ? Infinity : r.bulk?.ms, r.bulk?.ms != null && r.bulk.ms < t.bulkMs),
    ],
  ];
}

export function scaleMarkdown(r) {
  const cell = (s) => String(s).replace(/\|/g, '/').replace(/\n/g, ' ').slice(0, 300);
  return ['| figure | target | measured | verdict |', '|---|---|---|---|', ...scaleRows(r).map((row) => `| ${row.map(cell).join(' | ')} |`)].join('\n');
}

/** Replaces (or appends) the block `<!-- scale:<label>:start -->…end -->` of the README's Scale section. */
export function writeScaleBlock(readmePath, label, text) {
  const start = `<!-- scale:${label}:start -->`;
  const end = `<!-- scale:${label}:end -->`;
  const block = `${start}\n${text.trim()}\n${end}`;
  const readme = readFileSync(readmePath, 'utf8');
  const at = readme.indexOf(start);
  const anchor = '<!-- scale:runs -->';
  let next;
  if (at >= 0) next = readme.slice(0, at) + block + readme.slice(readme.indexOf(end, at) + end.length);
  else if (readme.includes(anchor)) next = readme.replace(anchor, `${block}\n\n${anchor}`);
  else throw new Error(`${readmePath} has no "${anchor}" marker in its Scale section`);
  writeFileSync(readmePath, next);
}
