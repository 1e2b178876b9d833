import type { RateLimitCounter, RateLimitStore } from '@idm/policies';
import { createHash } from 'node:crypto';
import type { RequestWindow } from '../config/gateway-config';

/** Which limit refused: the caller's address, or the initial access token it presented. */
export type RegistrationLimitScope = 'address' | 'initial_access_token';

export type RegistrationVerdict = { allowed: true } | { allowed: false; scope: RegistrationLimitScope; retryAfterSeconds: number };

/** Keys name a digest, never the token or the address itself (Redis is not where secrets go). */
const digest = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 32);

/**
 * The rate limit of dynamic client registration (`/credential/register`): every request counts
 * against its client address, and a registration's initial access token against that token, in
 * the same store the `rate-limit` policy uses (`RedisRateLimitStore`: check-then-count in one
 * script, shared exactly by every Gateway). Sliding windows: registrations are rare, so asking
 * Redis each time costs nothing, and a burst cannot straddle two fixed windows to get twice the
 * limit. Checked before the body is read and before the Manager is asked, so a flood spends
 * neither. A store that does not answer rejects (the caller answers 503: nothing registers
 * uncounted).
 */
export class RegistrationRateLimit {
  constructor(
    private readonly store: RateLimitStore,
    private readonly limits: { perAddress: RequestWindow; perToken: RequestWindow },
    private readonly clock: () => number = Date.now,
  ) {}

  async check(address: string, initialAccessToken: string | null): Promise<RegistrationVerdict> {
    const counters: RateLimitCounter[] = [counter(`dcr:address:${digest(address)}`, this.limits.perAddress)];
    if (initialAccessToken !== null) counters.push(counter(`dcr:iat:${digest(initialAccessToken)}`, this.limits.perToken));
    const verdict = await this.store.consume(counters, this.clock());
    if (verdict.allowed) return { allowed: true };
    return { allowed: false, scope: verdict.index === 0 ? 'address' : 'initial_access_token', retryAfterSeconds: Math.max(1, Math.ceil(verdict.resetMs / 1000)) };
  }
}

function counter(key: string, window: RequestWindow): RateLimitCounter {
  return { key, limit: window.limit, window: window.windowSeconds * 1000, sliding: true };
}
