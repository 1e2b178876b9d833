// The GC pauses a child node process reports with --trace-gc on its stdout ("[pid:isolate]
// 36104 ms: Scavenge 614.9 (644.4) -> 609.6 (649.1) MB, 295.86 / 23.77 ms ..."): when (ms since
// the isolate started), which kind, and the pause (the first figure). Wall time: on a loaded
// machine a pause includes time the process waited for a core.
const LINE = /\]\s+(\d+) ms: ([A-Za-z-]+)[^\n]*? MB, ([\d.]+) \/ [\d.]+ ms/;

export function watchGcPauses(child) {
  const pauses = [];
  let partial = '';
  const read = (chunk) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop().slice(-2000);
    for (const line of lines) {
      const m = LINE.exec(line);
      if (m) pauses.push({ atMs: Number(m[1]), kind: m[2], ms: Number(m[3]) });
    }
  };
  child.stdout.on('data', read);
  return {
    pauses,
    /** How many pauses started in [fromMs, toMs): in all, over `overMs`, and their sum (ms). */
    count(fromMs = 0, toMs = Infinity, overMs = 50) {
      const within = pauses.filter((p) => p.atMs >= fromMs && p.atMs < toMs);
      return { pauses: within.length, over: within.filter((p) => p.ms > overMs).length, overMs, totalMs: Math.round(within.reduce((t, p) => t + p.ms, 0)) };
    },
    /** The longest pause that started in [fromMs, toMs) of the process's life, with its kind; null when none. */
    longest(fromMs = 0, toMs = Infinity) {
      let worst = null;
      for (const p of pauses) if (p.atMs >= fromMs && p.atMs < toMs && (worst === null || p.ms > worst.ms)) worst = p;
      return worst;
    },
  };
}
