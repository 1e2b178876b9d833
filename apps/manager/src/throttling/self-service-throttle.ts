import { Injectable } from '@nestjs/common';
import { CountedLimit } from './counted-limit';

/**
 * The public self-service endpoints, per client address: credential requests (each may create a
 * pending request or, on auto-approving proxies, a credential) at most 20 an hour; failed polls
 * and rotations (unknown request or poll secret, invalid API key) at most 20 per 15 minutes.
 * Secrets there are too long to guess; this keeps one address from flooding the tables or
 * probing forever. Attempts reserve their count first (see CountedLimit), so a burst of
 * concurrent ones cannot pass the limit.
 */
@Injectable()
export class SelfServiceThrottle {
  readonly requests = new CountedLimit('self-service-requests', 20, 3600, { code: 'too_many_requests', title: 'Too many credential requests' });
  readonly failures = new CountedLimit('self-service-failures', 20, 15 * 60, { code: 'too_many_failures', title: 'Too many failed attempts' });

  /** A credential request from `address`, unless it must wait; every request counts. */
  async request<T>(address: string, work: () => Promise<T>): Promise<T> {
    await CountedLimit.reserve([this.requests, address]);
    return work();
  }

  /** A poll or rotation from `address`, unless it must wait; only failures count. */
  async attempt<T>(address: string, work: () => Promise<T>): Promise<T> {
    const reservation = await CountedLimit.reserve([this.failures, address]);
    const result = await work();
    await reservation.refund();
    return result;
  }
}
