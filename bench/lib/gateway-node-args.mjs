// The Gateway's node arguments in every bench: its production flags (apps/gateway/src/config/
// node-flags.ts, read from the build), then BENCH_GATEWAY_NODE_ARGS, so e.g. '--cpu-prof' adds a
// profile and '--memory-reducer' measures the Gateway without --no-memory-reducer.
import { createRequire } from 'node:module';
import { join } from 'node:path';

export function gatewayNodeArgs(root) {
  const { RECOMMENDED_NODE_FLAGS } = createRequire(import.meta.url)(join(root, 'apps/gateway/dist/config/node-flags.js'));
  return [...RECOMMENDED_NODE_FLAGS, ...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)];
}
