/**
 * Polls `probe` until `accept` takes its value (default: any truthy value), or fails after
 * `timeoutMs` naming `what`, the last value and the last error. The one way specs wait for an
 * effect that crosses processes or Redis (a config change, a revocation, a restart).
 */
export async function eventually<T>(
  probe: () => T | Promise<T>,
  accept: (value: T) => boolean = Boolean,
  { timeoutMs = 20000, what = 'condition', intervalMs = 100 }: { timeoutMs?: number; what?: string; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (accept(last)) return last;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out waiting for ${what}; last value ${JSON.stringify(last)} ${lastError ? `last error ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}` : ''}`,
  );
}
