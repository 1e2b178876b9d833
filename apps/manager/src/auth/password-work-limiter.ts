import { Inject, Injectable } from '@nestjs/common';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { ProblemError } from '../problems/problem.error';

/**
 * Bounds the argon2 work the Manager does for requests. One argon2id verification is hundreds of
 * milliseconds of a core and 64 MiB; a burst of logins run all at once starved every other
 * request (health included) for seconds. At most MANAGER_PASSWORD_HASH_CONCURRENCY run at a time,
 * MANAGER_PASSWORD_HASH_QUEUE more wait in order, and anything beyond is answered at once with
 * 503 `password_checks_busy` and Retry-After, which a client can act on, instead of an ever
 * longer queue.
 */
@Injectable()
export class PasswordWorkLimiter {
  private readonly concurrency: number;
  private readonly queueLimit: number;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(@Inject(MANAGER_CONFIG) config: Pick<ManagerConfig, 'MANAGER_PASSWORD_HASH_CONCURRENCY' | 'MANAGER_PASSWORD_HASH_QUEUE'>) {
    this.concurrency = config.MANAGER_PASSWORD_HASH_CONCURRENCY;
    this.queueLimit = config.MANAGER_PASSWORD_HASH_QUEUE;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queueLimit) {
        throw new ProblemError(
          503,
          'password_checks_busy',
          'Too many password checks at once',
          'try again in a moment',
          undefined,
          { retryAfterSeconds: 1 },
          { 'retry-after': '1' },
        );
      }
      // The slot is handed over by the finishing run, so `running` never drops in between.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
