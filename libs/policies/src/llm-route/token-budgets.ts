import type { LlmTokenQuota } from '@idm/domain';
import { periodBounds } from '../rate-limit/compiled-rate-limit';
import type { TokenCounter } from './token-quota.store';

/**
 * Appends the counters of a credential's or a project's token quotas for the windows that
 * contain `now`. The key names the scope ("c:<credentialId>", "p:<projectId>"), the period and
 * the window's start but not the limit, so changing a quota keeps what the window already spent.
 */
export function addTokenCounters(into: TokenCounter[], quotas: readonly LlmTokenQuota[], scope: string, now: number): void {
  for (const q of quotas) {
    const [start, end] = periodBounds(q.period)(now);
    into.push({ key: `llm:${scope}:${q.period}:${start}`, limit: q.limit, windowEnd: end });
  }
}

/** "1000 tokens per day", for the refusal message. */
export function describeCounter(counter: TokenCounter): string {
  return `${counter.limit} tokens per ${counter.key.split(':')[3]}`;
}
