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

/** Opened session records kept (one per session, the latest). */
const OPENED_RECORDS = 2048;

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
  /**
   * Store keys of the cookies the sealer opened (its opened values come back, the same objects,
   * for the same cookie text): no SHA-256 per request for a returning cookie.
   */
  private readonly keysOfCookies = new WeakMap<object, string>();
  /**
   * The record last opened under each key, with the sealed text it came from: the same text
   * (the store's copy, or Redis' unchanged value) gives the same record without building the
   * sealer's lookup key of a 2-3 KB text again. Bounded; shared values, never written to.
   */
  private readonly openedRecords = new Map<string, { sealed: string; record: SessionRecord; retiresAt: number }>();

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
    let record = this.openRecord(key, await this.call(() => this.store.get(key)));
    if (record === null) return 'ended';
    const over = (r: SessionRecord) => r.exp <= now || now - r.seen > this.idleMs;
    if (over(record)) {
      // A copy the store kept may predate another Gateway's last-seen: ended only on what the store itself holds.
      record = this.openRecord(key, await this.call(() => this.store.get(key, true)));
      if (record === null) return 'ended';
    }
    if (over(record)) {
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
    return this.openRecord(key, await this.call(() => this.store.get(key, true)));
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
    let key = this.keysOfCookies.get(value);
    if (key === undefined) {
      key = this.keyOf(value.s);
      this.keysOfCookies.set(value, key);
    }
    return { key };
  }

  private keyOf(id: string): string {
    return `${this.proxyId}:${createHash('sha256').update(id).digest('base64url')}`;
  }

  private sealRecord(key: string, record: SessionRecord): string {
    return this.sealer.seal(`session:${key}`, record);
  }

  private openRecord(key: string, sealed: string | null): SessionRecord | null {
    if (sealed === null) return null;
    const last = this.openedRecords.get(key);
    // The sealer's rules still apply to a kept record: its key's retirement ends it.
    if (last !== undefined && last.sealed === sealed && last.retiresAt > this.now()) return last.record;
    const opened = this.sealer.openUntil(`session:${key}`, sealed);
    const record = opened?.value as SessionRecord | undefined;
    if (record === undefined || typeof record.exp !== 'number' || typeof record.seen !== 'number' || record.c === null || typeof record.c !== 'object') return null;
    const kept = { ...record, tokens: record.tokens ?? {} };
    if (this.openedRecords.size >= OPENED_RECORDS) this.openedRecords.delete(this.openedRecords.keys().next().value!);
    this.openedRecords.set(key, { sealed, record: kept, retiresAt: opened!.retiresAt });
    return kept;
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
