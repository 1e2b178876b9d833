import { settledWithin, type GatewayPresence, type GatewayPresenceStore } from '@idm/config-bus';
import type { Logger } from 'pino';

/** What the Gateway serves right now, read on each beat. */
export interface ServedState {
  epoch: string | null;
  revision: number | null;
  appliedAt: number | null;
  ready: boolean;
  /** Proxied requests answered so far (a running count; its growth per second is reported). */
  answered: number;
}

export interface HeartbeatSettings {
  id: string;
  environment: string;
  version: string;
  intervalMs: number;
}

/** A report outlives this many missed beats before the Manager stops listing the Gateway. */
export const REPORT_LIFETIME_BEATS = 3;

/**
 * Reports this Gateway to the Manager every interval through Redis (GatewayPresenceStore): what
 * it serves and whether it is ready. Nothing depends on a beat getting through: while Redis is
 * away the Gateway keeps serving and simply drops out of the list; a clean shutdown withdraws the
 * report at once.
 *
 * Plain class: Nest calls the lifecycle methods by name (see GatewayModule).
 */
export class GatewayHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> = Promise.resolve();
  private readonly startedAt = Date.now();
  private last: { at: number; answered: number } | null = null;
  private lastWarning = 0;
  private inFlight = false;

  constructor(
    private readonly settings: HeartbeatSettings,
    private readonly store: GatewayPresenceStore,
    private readonly served: () => ServedState,
    private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.beat();
    this.timer = setInterval(() => this.beat(), this.settings.intervalMs);
    this.timer.unref();
  }

  /** Before the connections close (onApplicationShutdown), so the withdrawal can still reach Redis. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    // Best effort and bounded: a Redis that stopped answering drops the entry by its TTL instead.
    await settledWithin(this.beating.then(() => this.store.withdraw(this.settings.id)));
  }

  /** The report a beat at `now` sends (exposed for tests). */
  presence(now: number): GatewayPresence {
    const state = this.served();
    const { id, environment, version } = this.settings;
    const elapsed = this.last === null ? 0 : (now - this.last.at) / 1000;
    // A proxy that left takes its count with it: never a negative rate.
    const rate = elapsed > 0 ? Math.max(0, state.answered - this.last!.answered) / elapsed : 0;
    this.last = { at: now, answered: state.answered };
    return {
      id,
      environment,
      version,
      epoch: state.epoch,
      revision: state.revision,
      appliedAt: state.appliedAt,
      ready: state.ready,
      requestsPerSecond: Math.round(rate * 10) / 10,
      startedAt: this.startedAt,
      reportedAt: now,
    };
  }

  private beat(): void {
    // One beat at a time: while one is still under way (a slow Redis) the next is skipped, never stacked.
    if (this.inFlight) return;
    this.inFlight = true;
    this.beating = this.store
      .report(this.presence(Date.now()), this.settings.intervalMs * REPORT_LIFETIME_BEATS)
      .catch((err: unknown) => {
        if (Date.now() - this.lastWarning < 60_000) return;
        this.lastWarning = Date.now();
        this.log.warn({ err: { message: (err as Error)?.message } }, 'could not report this Gateway to the Manager (Redis); serving goes on');
      })
      .finally(() => (this.inFlight = false));
  }
}
