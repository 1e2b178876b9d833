// The proxy hot path of a Gateway holding many credentials against a reference Gateway holding
// ten (issue #13's ">= 0.95x its api-key RPS"), measured in pairs: each round loads both at the
// same time, one load generator each, so both see the same machine. Measured one after the other
// (before session 18), the ratio swung 0.63-1.15 between rounds of one run: this 2-core machine's
// speed changes within seconds (the same Gateway took 80 or 156 us of CPU per request in
// consecutive rounds), and a round's two halves landed on different sides of such a change.
// A round also reports each Gateway's CPU per request (its own cost, apart from the load
// generators it shares the cores with).
import { runAutocannon } from './load.mjs';
import { processCounters } from './processes.mjs';
import { median } from './report.mjs';

/**
 * `big`, `small`: { url, headers, pid }. `settings`: { rounds, connections, warmupSec, durationSec }.
 * Resolves to { rounds: [{ big, small, ratio }], medianRatio }, each side { rps, p99Ms, cpuUsPerRequest }.
 */
export async function hotPathRatio(root, big, small, settings, log) {
  const rounds = [];
  for (let i = 0; i < settings.rounds; i++) {
    const both = (durationSec) =>
      Promise.all(
        [big, small].map((target) => {
          const before = processCounters(target.pid);
          return runAutocannon(root, { url: target.url, connections: settings.connections, headers: target.headers, durationSec }).then((m) => {
            const after = processCounters(target.pid);
            const perRequest = (x) => (m.requests > 0 ? x / m.requests : null);
            return {
              m,
              cpuUsPerRequest: Math.round(perRequest((after.userSeconds + after.systemSeconds - before.userSeconds - before.systemSeconds) * 1e6)),
              kernelUsPerRequest: Math.round(perRequest((after.systemSeconds - before.systemSeconds) * 1e6)),
              faultsPerRequest: Math.round(perRequest(after.minorFaults - before.minorFaults) * 100) / 100,
            };
          });
        }),
      );
    await both(settings.warmupSec);
    const [b, s] = await both(settings.durationSec);
    for (const [name, { m }] of [
      ['big', b],
      ['small', s],
    ])
      if (!m.valid) throw new Error(`${name} Gateway load run invalid: ${m.invalidReason}`);
    const side = ({ m, ...perRequest }) => ({ rps: m.rps, p99Ms: m.p99Ms, ...perRequest });
    const round = { big: side(b), small: side(s), ratio: Math.round((b.m.rps / s.m.rps) * 1000) / 1000 };
    log(
      `hot path round ${i + 1}/${settings.rounds}: ${round.big.rps} vs ${round.small.rps} req/s at once, ratio ${round.ratio}; Gateway CPU ${round.big.cpuUsPerRequest} vs ${round.small.cpuUsPerRequest} us/request (kernel ${round.big.kernelUsPerRequest} vs ${round.small.kernelUsPerRequest}), page faults ${round.big.faultsPerRequest} vs ${round.small.faultsPerRequest} per request`,
    );
    rounds.push(round);
  }
  return { rounds, medianRatio: median(rounds.map((r) => r.ratio)), measured: 'in pairs (both loads at once)' };
}
