import { createHash } from 'node:crypto';
import type { SourceIdentity } from '@idm/identity-sources';

/**
 * Successful checks remembered for the source's TTL, so a busy proxy does not bind to LDAP on
 * every request. The key is SHA-256 over (source, username, password): the password is never
 * held in clear, and a changed password misses. Failures are never stored, so a wrong password
 * is always checked against the source. Bounded; the oldest entry goes first.
 */
export class VerifiedCache {
  private readonly entries = new Map<string, { identity: SourceIdentity; expiresAt: number }>();

  constructor(
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  static key(sourceId: string, username: string, password: string): string {
    return createHash('sha256').update(sourceId).update('\u0000').update(username).update('\u0000').update(password).digest('base64');
  }

  get(key: string): SourceIdentity | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.identity;
  }

  remember(key: string, identity: SourceIdentity, ttlSeconds: number): void {
    if (ttlSeconds <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { identity, expiresAt: this.now() + ttlSeconds * 1000 });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** A source changed or was removed: what it verified before no longer counts. */
  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
