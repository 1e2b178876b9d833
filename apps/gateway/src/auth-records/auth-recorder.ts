import type { AuthRecord } from '@idm/config-bus';

export type { AuthOutcome, AuthRecord, LlmUsage } from '@idm/config-bus';

/** Told of every authentication decision, synchronously on the request path: must return at once (queue, count), never wait or throw. */
export type AuthRecordListener = (record: AuthRecord) => void;

/**
 * The one place every authentication decision of this Gateway is reported (the proxies' policy
 * chains in `ProxyRequestHandler`, the token endpoints in `TokenHttpHandler`). Consumers
 * subscribe: the durable queue to the indexer (`AuthRecordQueue`), failure counting, LLM token
 * accounting. With no listener `active` is false and the request path builds no record at all;
 * with only refusal listeners (brute-force counting while AUTH_RECORDS=false) it builds records of
 * refusals only (`watchesRefusals`), never of the successes that are most of the traffic.
 */
export class AuthRecorder {
  private listeners: readonly AuthRecordListener[] = [];
  private refusalListeners: readonly AuthRecordListener[] = [];
  private failures = 0;

  /** True when someone listens to every decision: callers build a success's record only then. */
  get active(): boolean {
    return this.listeners.length > 0;
  }

  /** True when someone listens to refusals (every-decision listeners included): callers build a refusal's record only then. */
  get watchesRefusals(): boolean {
    return this.listeners.length > 0 || this.refusalListeners.length > 0;
  }

  /** Whether a decision's record is wanted: a refusal's by any listener, a success's only by every-decision listeners. */
  wants(refused: boolean): boolean {
    return refused ? this.watchesRefusals : this.active;
  }

  /** Adds a listener of every decision; returns the function that removes it. */
  subscribe(listener: AuthRecordListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Adds a listener of refusals only (outcome other than success). */
  subscribeRefusals(listener: AuthRecordListener): () => void {
    this.refusalListeners = [...this.refusalListeners, listener];
    return () => {
      this.refusalListeners = this.refusalListeners.filter((l) => l !== listener);
    };
  }

  report(record: AuthRecord): void {
    if (record.outcome !== 'success') this.notify(this.refusalListeners, record);
    this.notify(this.listeners, record);
  }

  private notify(listeners: readonly AuthRecordListener[], record: AuthRecord): void {
    for (const listener of listeners) {
      try {
        listener(record);
      } catch {
        // A listener's bug must not fail the request that was decided; counted for /metrics.
        this.failures++;
      }
    }
  }

  /** Listener exceptions swallowed so far. */
  get listenerFailures(): number {
    return this.failures;
  }
}
