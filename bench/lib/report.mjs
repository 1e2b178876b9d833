// Turns measured target results into ratios, target verdicts and a markdown table.
export const TARGET_RATIO_D_B = 0.85;
export const TARGET_RSS_MB = 200;
const NOISE_CORES = 0.15;

const ratio = (x, y) => (x?.valid && y?.valid && y.rps ? Math.round((x.rps / y.rps) * 1000) / 1000 : null);

/** Median of numbers (null for none); every benchmark judges ratios over rounds with it. */
export function median(xs) {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length === 0 ? null : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median over rounds of x's RPS / y's RPS in the same round (rounds are interleaved). */
function medianRoundRatio(x, y) {
  if (!x?.valid || !y?.valid || !x.rounds || !y.rounds) return null;
  const m = median(x.rounds.map((r, i) => (y.rounds[i]?.rps ? r.rps / y.rounds[i].rps : null)).filter((q) => q !== null));
  return m === null ? null : Math.round(m * 1000) / 1000;
}

export function verdicts(byKey) {
  const d = byKey.d;
  // With several rounds the target is judged on the median of the per-round ratios: on shared
  // cores one round's RPS moves by a third, and one quiet round says little.
  const dOverBMedian = medianRoundRatio(d, byKey.b);
  const dOverB = dOverBMedian ?? ratio(d, byKey.b);
  const dOverC = ratio(d, byKey.c);
  const dOverE = ratio(d, byKey.e);
  const perCore = (r) => (r?.valid && r.cpuCores ? r.rps / r.cpuCores : null);
  const eff = (x, y) => (perCore(x) && perCore(y) ? Math.round((perCore(x) / perCore(y)) * 1000) / 1000 : null);
  return {
    ratios: {
      dOverB,
      dOverC,
      dOverE,
      dOverBMedian,
      dOverEMedian: medianRoundRatio(d, byKey.e),
      dOverBShownRound: ratio(d, byKey.b),
      // RPS per CPU core the proxy itself burned: far less sensitive to other load on the machine
      perCoreDOverB: eff(d, byKey.b),
      perCoreDOverC: eff(d, byKey.c),
      perCoreDOverE: eff(d, byKey.e),
      p99DOverB: d?.valid && byKey.b?.valid ? Math.round((d.p99Ms / byKey.b.p99Ms) * 100) / 100 : null,
    },
    targets: {
      dOverBAtLeast085: dOverB === null ? null : dOverB >= TARGET_RATIO_D_B,
      gatewayRssUnder200Mb: d?.valid ? d.maxRssMb < TARGET_RSS_MB : null,
    },
  };
}

const fmt = (v, digits = 0) => (v === null || v === undefined ? '–' : typeof v === 'number' ? v.toFixed(digits) : String(v));
const yesNo = (v) => (v === null ? 'not measured' : v ? 'met' : '**NOT met**');

export function markdown(results, v, settings) {
  const lines = [
    `| | target | RPS | p50 ms | p99 ms | max RSS MB | target CPU (cores) | other CPU (cores) | response bytes | status |`,
    `|---|---|---:|---:|---:|---:|---:|---:|---:|---|`,
  ];
  for (const r of results) {
    const status = r.skipped ? `skipped: ${r.skipped}` : r.failed ? `failed: ${r.failed}` : r.valid ? 'valid' : `**invalid**: ${r.invalidReason}`;
    const measured = !r.skipped && !r.failed;
    lines.push(
      `| ${r.key} | ${r.name} | ${measured ? fmt(r.rps) : '–'} | ${measured ? fmt(r.p50Ms, 2) : '–'} | ${measured ? fmt(r.p99Ms, 2) : '–'} | ${measured ? fmt(r.maxRssMb, 1) : '–'} | ${measured ? fmt(r.cpuCores, 2) : '–'} | ${measured ? fmt(r.otherCpuCores, 2) : '–'} | ${measured ? fmt(r.bytesPerResponse) : '–'} | ${status.replace(/\|/g, '/').replace(/\n/g, ' ').slice(0, 200)} |`,
    );
  }
  lines.push('');
  lines.push(`Ratios (RPS, median of per-round ratios): d/b = ${fmt(v.ratios.dOverBMedian, 3)}, d/e = ${fmt(v.ratios.dOverEMedian, 3)}`);
  lines.push(
    `Ratios (RPS, round shown): d/b = ${fmt(v.ratios.dOverBShownRound, 3)}, d/c = ${fmt(v.ratios.dOverC, 3)}, d/e = ${fmt(v.ratios.dOverE, 3)}; p99 d/b = ${fmt(v.ratios.p99DOverB, 2)}x`,
  );
  lines.push(
    `Ratios (RPS per core used by the proxy process): d/b = ${fmt(v.ratios.perCoreDOverB, 3)}, d/c = ${fmt(v.ratios.perCoreDOverC, 3)}, d/e = ${fmt(v.ratios.perCoreDOverE, 3)}`,
  );
  lines.push(`Targets: d/b >= ${TARGET_RATIO_D_B}: ${yesNo(v.targets.dOverBAtLeast085)}; Gateway RSS < ${TARGET_RSS_MB} MB: ${yesNo(v.targets.gatewayRssUnder200Mb)}`);
  const noisy = results.filter((r) => r.otherCpuCores > NOISE_CORES).map((r) => r.key);
  if (noisy.length) lines.push(`**Noisy:** other processes used more than ${NOISE_CORES} cores during ${noisy.join(', ')}; rerun on an idle machine before trusting the ratios.`);
  lines.push(
    `Load: autocannon, ${settings.connections} connections, ${settings.warmupSec} s warm-up + ${settings.durationSec} s measured per target, ${settings.rounds} round(s) interleaved across targets (shown: the round in which other processes used the least CPU); RSS and CPU are of the target process tree (for (a): the upstream); "other CPU" is machine-wide busy time not used by target, upstream or load generator.`,
  );
  return lines.join('\n');
}
