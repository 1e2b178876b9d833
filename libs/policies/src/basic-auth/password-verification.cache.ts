import { createHash } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from 'argon2';

/**
 * argon2id is deliberately slow (tens of ms); running it on every proxied request would cap a
 * Gateway at a few dozen requests per second per core. Successful verifications are remembered
 * under SHA-256(credentialId, stored hash, presented password): a password change alters the
 * stored hash and so misses the cache, and the cache never holds a password in clear.
 * Failures are not cached, so a guessed password always costs the guesser a full verify.
 * Bounded: the oldest entry is evicted first (Map keeps insertion order; a hit re-inserts).
 */
export class PasswordVerificationCache {
  private readonly verified = new Map<string, true>();
  /** Concurrent first requests with the same credentials share one argon2 run. */
  private readonly pending = new Map<string, Promise<boolean>>();
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly maxEntries = 10_000) {}

  /** Resolves synchronously (true) on a cache hit; otherwise runs argon2. */
  verify(credentialId: string, passwordHash: string, password: string): true | Promise<boolean> {
    const key = createHash('sha256').update(credentialId).update('\u0000').update(passwordHash).update('\u0000').update(password).digest('base64');
    if (this.verified.has(key)) {
      this.verified.delete(key);
      this.verified.set(key, true);
      return true;
    }
    let running = this.pending.get(key);
    if (!running) {
      running = argon2Verify(passwordHash, password)
        .catch(() => false) // a corrupt stored hash is a failed login, not a 500
        .then((ok) => {
          this.pending.delete(key);
          if (ok) this.remember(key);
          return ok;
        });
      this.pending.set(key, running);
    }
    return running;
  }

  /**
   * Spends the same argon2 time for an unknown user as for a wrong password, so response time
   * does not reveal which usernames exist.
   */
  async verifyNothing(password: string): Promise<false> {
    this.dummyHash ??= argon2Hash('identity-manager-timing-equalizer');
    await argon2Verify(await this.dummyHash, password).catch(() => false);
    return false;
  }

  get size(): number {
    return this.verified.size;
  }

  private remember(key: string): void {
    this.verified.set(key, true);
    if (this.verified.size > this.maxEntries) this.verified.delete(this.verified.keys().next().value!);
  }
}
