// Runs the authorization code flow load generator (code-flow-worker.mjs) in its own Node process,
// so it never shares an event loop with the OP being measured, and reduces its output to the
// numbers the report needs. A round with any failed flow is invalid (its rate is not a result).
import { join } from 'node:path';
import { startProcess } from './processes.mjs';

/** `target`: authorizeUrl, tokenUrl, issuer, clientId, clientSecret, redirectUri, scope, jwks, sessions (one cookie header per concurrent browser). */
export function runCodeFlows(root, target, durationSec) {
  const child = startProcess(process.execPath, [join(root, 'bench/lib/code-flow-worker.mjs'), JSON.stringify({ ...target, durationSec })], { stdin: 'pipe' });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => {
    out += c;
  });
  child.stderr.on('data', (c) => {
    err += c;
  });
  return new Promise((resolve, reject) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), (durationSec + 30) * 1000);
    child.on('close', (code) => {
      clearTimeout(killer);
      try {
        const r = JSON.parse(out.trim().split('\n').pop());
        const failed = Object.values(r.failures).reduce((a, b) => a + b, 0);
        resolve({
          valid: failed === 0 && r.flows > 0,
          invalidReason: failed ? JSON.stringify(r.failures) : r.flows ? null : 'no flows',
          flowsPerSec: r.flows / r.elapsedSec,
          flows: r.flows,
          failed,
          p50Ms: r.latencyMs.p50,
          p99Ms: r.latencyMs.p99,
          loadGeneratorCpuSeconds: r.cpuSeconds,
        });
      } catch {
        reject(new Error(`code flow load generator failed (exit ${code}): ${err.slice(-1000) || out.slice(-1000)}`));
      }
    });
  });
}
