import { createHash, randomBytes } from 'node:crypto';
import type { CookieSealer } from './sealed-cookie';
import type { OidcSessionStore } from './session-store';

/** The tokens the OP gave at login (or at the last refresh). */
export interface SessionTokens {
  idToken?: string;
  accessToken?: string;
  /** Epoch ms; absent when the OP did not say (`expires_in`). */
  accessTokenExpiresAt?: number;
  refreshToken?: string;
}

/** One session as stored (sealed) in the store. */
export interface SessionRecord {
  /** The claims the policy forwards, as the ID token had them. */
  c: Record<string, unknown>;
  /** Absolute end, epoch ms. */
  exp: number;
  /** Last request seen (written at most every touch interval), epoch ms. */
  seen: number;
  tokens: SessionTokens;
}

/** A live session: its store key (never shown to anyone) and its record. */
export interface LiveSession {
  key: string;
  record: SessionRecord;
}

/** `none`: no cookie; `invalid`: a cookie that does not open here; `ended`: logged out, idle, or past its lifetime. */
export type Resumed = LiveSession | 'none' | 'invalid' | 'ended';

/** The store did not answer (the policy answers 503, never a 500). */
export class SessionStoreUnavailable extends Error {
  constructor(readonly cause: unknown) {
    super('the OIDC session store cannot be reached');
  }
}

/** What the session cookie holds: a random session id, and the absolute end (checked before the store is asked). */
interface CookieValue {
  s: string;
  exp: number;
}

/**
 * Server-side sessions of one `oidc` proxy. The cookie holds only a random 256-bit session id,
 * sealed (AES-GCM, per-proxy key): it cannot be forged, and one of another proxy does not open.
 * The record lives in the shared store under `<proxy id>:<SHA-256 of the id>` (the store never
 * holds a usable id), itself sealed under the same key with its key as associated data (a
 * record copied under another key does not open). Logout deletes it; an idle session is
 * deleted when next seen, and the store's TTL (the earlier of idle and absolute end) forgets
 * sessions nobody comes back to.
 */
export class OidcSessions {
  /** Last-seen is written at most this often: idle timeouts are exact to within it, and a busy session costs one write a minute, not one per request. */
  private readonly touchIntervalMs: number;

  constructor(
    private readonly store: OidcSessionStore,
    private readonly sealer: CookieSealer,
    private readonly proxyId: string,
    private readonly cookieName: string,
    private readonly idleMs: number,
    private readonly lifetimeMs: number,
    private readonly now: () => number,
  ) {
    this.touchIntervalMs = Math.min(60_000, Math.floor(idleMs / 4));
  }

  /** A new session (a new id on every login: no session fixation); returns the cookie value. */
  async start(claims: Record<string, unknown>, tokens: SessionTokens): Promise<string> {
    const now = this.now();
    const id = randomBytes(32).toString('base64url');
    const key = this.keyOf(id);
    const record: SessionRecord = { c: claims, exp: now + this.lifetimeMs, seen: now, tokens };
    const created = await this.call(() => this.store.create(key, this.sealRecord(key, record), this.ttlOf(record, now)));
    if (!created) throw new SessionStoreUnavailable(new Error('session id collision'));
    return this.sealer.seal(this.cookieName, { s: id, exp: record.exp } satisfies CookieValue);
  }

  /** The session a cookie value refers to, if it is still live (its last-seen refreshed). */
  async resume(cookie: string | undefined): Promise<Resumed> {
    if (cookie === undefined) return 'none';
    const found = this.keyOfCookie(cookie);
    if (found === null) return 'invalid';
    if (found === 'ended') return 'ended';
    const { key } = found;
    const now = this.now();
    const record = this.openRecord(key, await this.call(() => this.store.get(key)));
    if (record === null) return 'ended';
    if (record.exp <= now || now - record.seen > this.idleMs) {
      await this.call(() => this.store.take(key));
      return 'ended';
    }
    if (now - record.seen >= this.touchIntervalMs) {
      const touched = { ...record, seen: now };
      if (!(await this.save({ key, record: touched }))) return 'ended';
      return { key, record: touched };
    }
    return { key, record };
  }

  /** Rewrites a live session (refreshed tokens, last-seen); false when it ended meanwhile (a logout wins). */
  save(session: LiveSession): Promise<boolean> {
    const now = this.now();
    return this.call(() => this.store.update(session.key, this.sealRecord(session.key, session.record), this.ttlOf(session.record, now)));
  }

  /** Re-reads a session (another Gateway may have refreshed its tokens); null when it ended. */
  async reload(key: string): Promise<SessionRecord | null> {
    return this.openRecord(key, await this.call(() => this.store.get(key)));
  }

  /** Deletes the session the cookie refers to; returns its record (null: none, or already ended). */
  async end(cookie: string | undefined): Promise<SessionRecord | null> {
    if (cookie === undefined) return null;
    const found = this.keyOfCookie(cookie);
    if (found === null || found === 'ended') return null;
    return this.openRecord(found.key, await this.call(() => this.store.take(found.key)));
  }

  /** Deletes a session by key (a refresh token the OP no longer honours). */
  async drop(key: string): Promise<void> {
    await this.call(() => this.store.take(key));
  }

  /** The store key of a cookie that opens (null: it does not; `ended`: past its absolute end). */
  private keyOfCookie(cookie: string): { key: string } | 'ended' | null {
    const value = this.sealer.open(this.cookieName, cookie) as Partial<CookieValue> | null;
    if (value === null || typeof value.s !== 'string' || typeof value.exp !== 'number') return null;
    if (value.exp <= this.now()) return 'ended';
    return { key: this.keyOf(value.s) };
  }

  private keyOf(id: string): string {
    return `${this.proxyId}:${createHash('sha256').update(id).digest('base64url')}`;
  }

  private sealRecord(key: string, record: SessionRecord): string {
    return this.sealer.seal(`session:${key}`, record);
  }

  private openRecord(key: string, sealed: string | null): SessionRecord | null {
    if (sealed === null) return null;
    const record = this.sealer.open(`session:${key}`, sealed) as SessionRecord | null;
    if (record === null || typeof record.exp !== 'number' || typeof record.seen !== 'number' || record.c === null || typeof record.c !== 'object') return null;
    return { ...record, tokens: record.tokens ?? {} };
  }

  private ttlOf(record: SessionRecord, now: number): number {
    return Math.max(1, Math.min(record.exp - now, record.seen + this.idleMs - now));
  }

  private async call<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw new SessionStoreUnavailable(err);
    }
  }
}
