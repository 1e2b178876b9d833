/**
 * Where the `oidc` policy keeps its sessions: shared by every Gateway of the environment (a
 * session started on one is valid on all and across restarts) and revocable (logout deletes the
 * record, so a copied cookie is worthless afterwards). Values are opaque sealed strings; the
 * store never sees claims or tokens in the clear. Every method rejects when the store cannot
 * answer: the policy then answers 503 `oidc_session_store_unavailable`.
 */
export interface OidcSessionStore {
  /** Writes a new record; false when the key is taken (never overwrites). */
  create(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Rewrites a record that still exists; false when it is gone (a logout is never undone by a late write). */
  update(key: string, value: string, ttlMs: number): Promise<boolean>;
  /**
   * The record, or null when absent or expired. A store may answer from a short-lived copy that a
   * write anywhere invalidates (RedisOidcSessionStore); `fresh` asks the shared store itself.
   */
  get(key: string, fresh?: boolean): Promise<string | null>;
  /** Deletes the record and returns what it held (null: there was none). */
  take(key: string): Promise<string | null>;
}

/** For a single process (unit tests); expiry by the injected clock. */
export class InMemoryOidcSessionStore implements OidcSessionStore {
  private readonly records = new Map<string, { value: string; until: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async create(key: string, value: string, ttlMs: number): Promise<boolean> {
    if ((await this.get(key)) !== null) return false;
    this.records.set(key, { value, until: this.now() + ttlMs });
    return true;
  }

  async update(key: string, value: string, ttlMs: number): Promise<boolean> {
    if ((await this.get(key)) === null) return false;
    this.records.set(key, { value, until: this.now() + ttlMs });
    return true;
  }

  async get(key: string): Promise<string | null> {
    const record = this.records.get(key);
    if (record === undefined) return null;
    if (record.until > this.now()) return record.value;
    this.records.delete(key);
    return null;
  }

  async take(key: string): Promise<string | null> {
    const value = await this.get(key);
    this.records.delete(key);
    return value;
  }
}
