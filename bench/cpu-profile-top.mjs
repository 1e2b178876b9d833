#!/usr/bin/env node
// Top frames of a V8 CPU profile (`node --cpu-prof`), by self time, optionally within a window:
//   node bench/cpu-profile-top.mjs <file.cpuprofile> [--from-ms A] [--to-ms B] [--last-ms C] [--top 25]
// A and B count from the profile's start; C keeps only its last C ms (a phase at the end of a
// run, e.g. the credential changes before a Manager stops). "(garbage collector)" is V8's own
// frame for GC time spent on the main thread; "(program)"/"(idle)" are native / waiting.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const [file, ...rest] = process.argv.slice(2);
if (!file) throw new Error('usage: cpu-profile-top.mjs <file.cpuprofile> [--from-ms A] [--to-ms B] [--last-ms C] [--top N]');
const opt = (name, dflt) => (rest.includes(name) ? Number(rest[rest.indexOf(name) + 1]) : dflt);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const totalMs = (profile.endTime - profile.startTime) / 1000;
const lastMs = opt('--last-ms', null);
const fromMs = lastMs === null ? opt('--from-ms', 0) : totalMs - lastMs;
const toMs = opt('--to-ms', totalMs);
const self = new Map();
let t = 0;
let sampled = 0;
profile.samples.forEach((id, i) => {
  t += profile.timeDeltas[i] / 1000;
  if (t < fromMs || t > toMs) return;
  const dt = profile.timeDeltas[i + 1] !== undefined ? profile.timeDeltas[i + 1] / 1000 : 0;
  const { callFrame: f } = nodes.get(id);
  const key = `${f.functionName || '(anonymous)'} ${f.url ? `${basename(f.url)}:${f.lineNumber + 1}` : ''}`.trim();
  self.set(key, (self.get(key) ?? 0) + dt);
  sampled += dt;
});
const busy = sampled - (self.get('(idle)') ?? 0);
console.log(`${basename(file)}: ${Math.round(totalMs)} ms profiled, window ${Math.round(fromMs)}-${Math.round(toMs)} ms: ${Math.round(busy)} ms busy`);
for (const [key, ms] of [...self]
  .filter(([k]) => k !== '(idle)')
  .sort((a, b) => b[1] - a[1])
  .slice(0, opt('--top', 25)))
  console.log(`${ms.toFixed(1).padStart(9)} ms ${((ms / busy) * 100).toFixed(1).padStart(5)} %  ${key}`);
