import type { BruteForceBlock } from '@idm/config-bus';
import type { Logger } from 'pino';

export interface BlockAlertSettings {
  /** Where each new block is POSTed as JSON; null: no alerts. */
  url: string | null;
  /** Tries per alert (the first included), with a doubling wait in between. */
  attempts: number;
  /** Wait before the first retry, in milliseconds. */
  retryDelayMs: number;
}

/** Most alerts waiting for their webhook at once: past it new ones are dropped (and logged), memory stays bounded. */
const MAX_PENDING = 1_000;
const REQUEST_TIMEOUT_MS = 5_000;

/**
 * Tells a webhook about every block this Gateway started (the Gateway whose failure crossed the
 * threshold, so each block is alerted once across the fleet). Off the request path: a slow or
 * failing webhook delays nothing. Retried on network errors, 408, 429 and 5xx with a doubling
 * wait; another 4xx is final. Alerts live in memory: a Gateway that stops drops the pending ones.
 */
export class BlockAlerts {
  private pending = 0;

  constructor(
    private readonly settings: BlockAlertSettings,
    private readonly environment: string,
    private readonly log: Logger,
  ) {}

  get enabled(): boolean {
    return this.settings.url !== null;
  }

  send(block: BruteForceBlock): void {
    if (this.settings.url === null) return;
    if (this.pending >= MAX_PENDING) {
      this.log.warn({ blockId: block.id }, 'brute-force alert dropped: too many alerts waiting for the webhook');
      return;
    }
    this.pending++;
    void this.deliver(this.settings.url, alertBody(this.environment, block)).finally(() => this.pending--);
  }

  private async deliver(url: string, body: string): Promise<void> {
    let wait = this.settings.retryDelayMs;
    for (let attempt = 1; ; attempt++) {
      const outcome = await post(url, body);
      if (outcome === 'delivered') return;
      if (outcome === 'refused' || attempt >= this.settings.attempts) {
        this.log.warn({ attempts: attempt, outcome }, 'brute-force alert not delivered to the webhook');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, wait).unref());
      wait *= 2;
    }
  }
}

/** What the webhook receives: the block as the Manager's API shows it (times as ISO strings). */
export function alertBody(environment: string, block: BruteForceBlock): string {
  const { key: _key, ...shown } = block;
  return JSON.stringify({
    type: 'brute-force.blocked',
    environment,
    block: { ...shown, blockedAt: new Date(block.blockedAt).toISOString(), until: new Date(block.until).toISOString() },
  });
}

async function post(url: string, body: string): Promise<'delivered' | 'retry' | 'refused'> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), redirect: 'manual' });
    await res.body?.cancel();
    if (res.ok) return 'delivered';
    return res.status === 408 || res.status === 429 || res.status >= 500 ? 'retry' : 'refused';
  } catch {
    return 'retry';
  }
}
