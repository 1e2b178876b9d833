// When a Manager's reconciliation of an environment is over: its published revision stops moving.
// The benches used to take "the last seeded credential is served" for that, but the reconciliation
// publishes in credential-id order, so that credential lands at a random point of it, and a Gateway
// started then still raced the rest (bench/README.md, "The racing case (session 17)").
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const { environmentConfigKeys } = createRequire(import.meta.url)(join(root, 'libs/config-bus/dist/index.js'));
const POLL_MS = 100;

/**
 * Resolves once `environment`'s revision in Redis has not changed for `quietMs`, with that
 * revision and when it was first seen (performance.now()): the end of the publication, within
 * one poll. Throws after `timeoutMs`.
 */
export async function waitForSettledRevision(redis, environment, { quietMs = 3_000, timeoutMs = 600_000 } = {}) {
  const head = environmentConfigKeys(environment).head;
  const deadline = performance.now() + timeoutMs;
  let revision = await redis.hget(head, 'revision');
  let since = performance.now();
  while (performance.now() - since < quietMs) {
    if (performance.now() > deadline) throw new Error(`the revision of ${environment} was still moving after ${timeoutMs / 1000} s (at ${revision})`);
    await new Promise((r) => setTimeout(r, POLL_MS));
    const now = await redis.hget(head, 'revision');
    if (now !== revision) {
      revision = now;
      since = performance.now();
    }
  }
  return { revision: Number(revision), at: since };
}
