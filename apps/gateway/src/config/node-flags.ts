/**
 * Node/V8 flags the Gateway should be started with (`node --no-memory-reducer dist/main.js`;
 * the Dockerfile, the Helm chart and `npm start` do). They cannot be set from inside: V8 reads
 * them when it sets up the heap, before any of our code runs.
 *
 * `--no-memory-reducer`: V8's memory reducer runs full "reduce" GCs once a process goes idle.
 * After one, the proxy path settled in a slower state (node's `process.nextTick` created its tick
 * objects through V8's runtime on every call: 10-20 % fewer requests per second until restart;
 * bench/README.md). Without it an idle Gateway keeps the heap it grew under load; ordinary GCs
 * still run as it allocates.
 */
export const RECOMMENDED_NODE_FLAGS = ['--no-memory-reducer'] as const;

export function missingNodeFlags(execArgv: readonly string[]): string[] {
  return RECOMMENDED_NODE_FLAGS.filter((flag) => !execArgv.includes(flag));
}
