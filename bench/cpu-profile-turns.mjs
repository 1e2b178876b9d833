#!/usr/bin/env node
// What ran in each stall of the event loop, from a V8 CPU profile (`node --cpu-prof`) and the
// stalls bench/lib/loop-gaps.mjs recorded in the same process (issue #13: no stall over 50 ms).
// For the longest stalls: when (ms from the profile's start), how long, the top frames by self
// time and, for each, the deepest frame of our own code it ran for (a "(garbage collector)" or
// JSON.parse sample says little alone):
//   node bench/cpu-profile-turns.mjs <file.cpuprofile> --gaps <gaps.json> [--top 8] [--frames 6]
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const [file, ...rest] = process.argv.slice(2);
const arg = (name) => (rest.includes(name) ? rest[rest.indexOf(name) + 1] : undefined);
if (!file || !arg('--gaps')) throw new Error('usage: cpu-profile-turns.mjs <file.cpuprofile> --gaps <gaps.json> [--top 8] [--frames 6]');
const profile = JSON.parse(readFileSync(file, 'utf8'));
const gaps = JSON.parse(readFileSync(arg('--gaps'), 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parents = new Map();
for (const n of profile.nodes) for (const child of n.children ?? []) parents.set(child, n.id);
const frameOf = (id) => {
  const f = nodes.get(id).callFrame;
  return `${f.functionName || '(anonymous)'} ${f.url ? `${basename(f.url)}:${f.lineNumber + 1}` : ''}`.trim();
};
// The deepest frame of our own code (apps/, libs/; not node_modules) on a sample's stack.
const oursOf = (id) => {
  for (let at = id; at !== undefined; at = parents.get(at)) {
    const url = nodes.get(at).callFrame.url;
    if (/\/(apps|libs)\//.test(url) && !url.includes('node_modules')) return frameOf(at);
  }
  return '(no frame of ours)';
};

// Absolute sample times (µs, the monotonic clock process.hrtime reads too).
const times = [];
let at = profile.startTime;
for (const delta of profile.timeDeltas) times.push((at += delta));

const add = (map, key, ms) => map.set(key, (map.get(key) ?? 0) + ms);
const inProfile = gaps.filter((g) => g.fromUs >= profile.startTime && g.toUs <= profile.endTime).sort((a, b) => b.ms - a.ms);
console.log(`${basename(file)}: ${gaps.length} stalls recorded, ${inProfile.length} within the profile; longest first`);
for (const gap of inProfile.slice(0, Number(arg('--top') ?? 8))) {
  const self = new Map();
  profile.samples.forEach((id, i) => {
    if (times[i] < gap.fromUs || times[i] > gap.toUs) return;
    const ms = (times[i + 1] ?? times[i]) / 1000 - times[i] / 1000;
    const frame = frameOf(id);
    if (!self.has(frame)) self.set(frame, { ms: 0, ours: new Map() });
    self.get(frame).ms += ms;
    add(self.get(frame).ours, oursOf(id), ms);
  });
  console.log(`at ${Math.round((gap.fromUs - profile.startTime) / 1000)} ms: ${gap.ms} ms stall`);
  for (const [frame, { ms, ours }] of [...self].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(arg('--frames') ?? 6))) {
    const [top] = [...ours].sort((a, b) => b[1] - a[1]);
    console.log(`  ${ms.toFixed(1).padStart(7)} ms  ${frame}${top && top[0] !== frame ? `  (for ${top[0]})` : ''}`);
  }
}
