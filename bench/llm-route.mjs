// Issue 17 §4 benchmark: what an LLM route costs over a plain proxy. One Gateway process, two
// proxies on the same OpenAI-compatible upstream (bench/lib/openai-upstream.mjs): `/plain`
// (api-key) and `/llm` (api-key + llm-route with a project token quota and a credential token
// quota, so every call reads its JSON body, reserves and settles in Redis and meters the
// answer). Same POST load on both, interleaved rounds, for a JSON answer and for a streamed one.
// Usage: node bench/llm-route.mjs
//   BENCH_CONNECTIONS=50 BENCH_DURATION=5 BENCH_WARMUP=2 BENCH_ROUNDS=3 REDIS_URL=redis://127.0.0.1:6379
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from './lib/gateway-process.mjs';
import { runAutocannon } from './lib/load.mjs';
import { median } from './lib/report.mjs';
import { killAllNow, sampleProcess, startProcess, stopAll, stopProcess, waitForPortLine } from './lib/processes.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { EnvironmentConfigStore } = require(join(root, 'libs/config-bus/dist/index.js'));
const { generateApiKey } = require(join(root, 'libs/domain/dist/index.js'));
const Redis = createRequire(join(root, 'libs/config-bus/package.json'))('ioredis');
const settings = {
  connections: Number(process.env.BENCH_CONNECTIONS ?? 50),
  durationSec: Number(process.env.BENCH_DURATION ?? 5),
  warmupSec: Number(process.env.BENCH_WARMUP ?? 2),
  rounds: Number(process.env.BENCH_ROUNDS ?? 3),
};
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const tmp = mkdtempSync(join(tmpdir(), 'idm-bench-llm-'));
process.on('exit', killAllNow);

// High enough never to refuse during the run: what is measured is the cost of counting.
const QUOTA = [{ limit: 1_000_000_000_000, period: 'day' }];
const chat = (stream) =>
  JSON.stringify({
    model: 'gpt-4o-mini',
    stream,
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Say hello to the benchmark, please.' },
    ],
  });

function snapshot(environment, upstreamPort, apiKey) {
  const projectId = randomUUID();
  const proxy = (name, policies) => ({ id: randomUUID(), projectId, name, basePath: `/${name}`, upstreamUrl: `http://127.0.0.1:${upstreamPort}`, methods: ['POST'], policies });
  return {
    schemaVersion: 3,
    environment,
    epoch: 'bench',
    revision: 1,
    generatedAt: new Date().toISOString(),
    proxies: [
      proxy('plain', [{ type: 'api-key', config: {} }]),
      proxy('llm', [
        { type: 'api-key', config: {} },
        { type: 'llm-route', config: { projectTokenQuotas: QUOTA } },
      ]),
    ],
    credentials: [
      {
        id: randomUUID(),
        projectId,
        username: 'bench',
        passwordHash: null,
        enabled: true,
        expiresAt: null,
        access: { llm: { models: ['gpt-4o-mini'], tokenQuotas: QUOTA } },
        apiKeys: [{ id: randomUUID(), prefix: apiKey.prefix, hash: apiKey.hash, expiresAt: null }],
      },
    ],
  };
}

async function post(url, headers, body) {
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, text: await res.text() };
}

async function measure(gateway, url, headers, body) {
  const load = { url, connections: settings.connections, headers, method: 'POST', body };
  await runAutocannon(root, { ...load, durationSec: settings.warmupSec });
  const sampler = sampleProcess(gateway.pid);
  const started = process.hrtime.bigint();
  const result = await runAutocannon(root, { ...load, durationSec: settings.durationSec });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const s = sampler.stop();
  return { rps: result.rps, valid: result.valid, invalidReason: result.invalidReason, cores: s.cpuSeconds / elapsed, maxRssMb: s.maxRssMb, p50: result.p50Ms, p99: result.p99Ms };
}

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const upstream = startProcess(process.execPath, [join(root, 'bench/lib/openai-upstream.mjs')], { logFile: join(tmp, 'upstream.log'), stdin: 'pipe' });
const environment = `bench-llm-${randomBytes(4).toString('hex')}`;
let gateway;
try {
  const upstreamPort = await waitForPortLine(upstream);
  const apiKey = generateApiKey();
  await new EnvironmentConfigStore(redis).write(snapshot(environment, upstreamPort, apiKey));
  let base;
  ({ child: gateway, base } = await startGateway(root, { environment, logFile: join(tmp, 'gateway.log'), authRecords: false }));
  const headers = { 'x-api-key': apiKey.key, 'content-type': 'application/json' };
  // The LLM route really meters: a refused model proves the policy runs, the counter proves the charge.
  if ((await post(`${base}/llm/v1/chat/completions`, headers, JSON.stringify({ model: 'other' }))).status !== 403) throw new Error('llm-route not enforced');
  const variants = [];
  for (const stream of [false, true]) {
    for (const name of ['plain', 'llm']) variants.push({ key: `${name}${stream ? ' (SSE)' : ' (JSON)'}`, url: `${base}/${name}/v1/chat/completions`, body: chat(stream) });
  }
  const results = Object.fromEntries(variants.map((v) => [v.key, []]));
  for (let r = 0; r < settings.rounds; r++) {
    // Alternate the order so a drift of the shared machine favours neither side.
    for (const v of r % 2 === 0 ? variants : [...variants].reverse()) {
      log(`round ${r + 1}: ${v.key}`);
      results[v.key].push(await measure(gateway, v.url, headers, v.body));
    }
  }
  const counted = await redis.keys(`{idm:rl:${environment}}:llm:*`);
  if (counted.length !== 2) throw new Error(`expected the credential and project token counters, found ${counted.length}`);
  console.log('| target | RPS (median of rounds) | Gateway CPU cores | p50 ms | p99 ms | max RSS MB | all rounds RPS |');
  console.log('|---|---|---|---|---|---|---|');
  for (const v of variants) {
    const rounds = results[v.key].filter((m) => m.valid);
    const mid = rounds.sort((a, b) => a.rps - b.rps)[Math.floor(rounds.length / 2)];
    console.log(
      `| ${v.key} | ${mid ? mid.rps : 'invalid'} | ${mid?.cores.toFixed(2)} | ${mid?.p50} | ${mid?.p99} | ${mid?.maxRssMb} | ${results[v.key].map((x) => `${x.rps}${x.valid ? '' : ' (invalid: ' + x.invalidReason + ')'}`).join(', ')} |`,
    );
  }
  for (const kind of ['JSON', 'SSE']) {
    const ratios = results[`plain (${kind})`]
      .map((p, i) => [p, results[`llm (${kind})`][i]])
      .filter(([p, l]) => p.valid && l?.valid)
      .map(([p, l]) => l.rps / p.rps);
    if (ratios.length > 0) console.log(`\nllm/plain RPS (${kind}), per round: ${ratios.map((x) => x.toFixed(3)).join(', ')}; median ${median(ratios).toFixed(3)}`);
  }
} finally {
  if (gateway) await stopProcess(gateway);
  await stopAll();
  await new EnvironmentConfigStore(redis).remove(environment).catch(() => {});
  const keys = [...(await redis.keys(`*${environment}*`))];
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  rmSync(tmp, { recursive: true, force: true });
}
