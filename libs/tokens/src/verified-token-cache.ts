import { hash, type KeyObject } from 'node:crypto';
import type { JwtClaims } from './jwt-claims';

/**
 * Bounded LRU of tokens whose signature and claims already verified. Keyed by SHA-256 of the
 * token so memory per entry stays small and bearer tokens are not kept as map keys. An entry
 * remembers the exact KeyObject it verified with: after a key ring change or a key's retirement
 * the caller sees a different (or no) key and verifies again instead of trusting the entry.
 */
export interface VerifiedToken {
  readonly kid: string;
  readonly key: KeyObject;
  readonly claims: Readonly<JwtClaims>;
}

export class VerifiedTokenCache {
  private readonly entries = new Map<string, VerifiedToken>();

  constructor(private readonly maxEntries: number) {}

  static keyOf(token: string): string {
    return hash('sha256', token, 'base64url'); // one-shot: this runs on every request
  }

  get(cacheKey: string): VerifiedToken | undefined {
    const entry = this.entries.get(cacheKey);
    if (entry) {
      // Map keeps insertion order: re-inserting marks the entry most recently used.
      this.entries.delete(cacheKey);
      this.entries.set(cacheKey, entry);
    }
    return entry;
  }

  set(cacheKey: string, entry: VerifiedToken): void {
    if (this.maxEntries <= 0) return;
    this.entries.delete(cacheKey);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(cacheKey, entry);
  }

  delete(cacheKey: string): void {
    this.entries.delete(cacheKey);
  }

  get size(): number {
    return this.entries.size;
  }
}
