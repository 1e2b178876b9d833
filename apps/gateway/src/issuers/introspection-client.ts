import { hash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { IssuerHttp } from './issuer-http';

export interface IntrospectionTiming {
  /** "Not active" answers are kept this long (a token just issued elsewhere is not refused for long). */
  negativeTtlMs: number;
  /** Active answers are kept until the token's exp, but never longer than this (revocations at the issuer show after it). */
  maxPositiveTtlMs: number;
}

export const DEFAULT_INTROSPECTION_TIMING: IntrospectionTiming = { negativeTtlMs: 10_000, maxPositiveTtlMs: 300_000 };

export type IntrospectionAnswer = { readonly active: true; readonly claims: Readonly<Record<string, unknown>>; readonly reuseUntil: number } | { readonly active: false };
export const UNAVAILABLE = 'unavailable' as const;

/**
 * RFC 7662 introspection at one key manager, with the answers shared by every Gateway through
 * Redis (by SHA-256 of the token, never the token): an active answer until the token's `exp`
 * (bounded), an inactive one briefly. Concurrent lookups of one token in this process are one
 * call. Redis unreachable: the issuer is asked directly; the issuer unreachable: `unavailable`.
 */
export class IntrospectionClient {
  private readonly inflight = new Map<string, Promise<IntrospectionAnswer | typeof UNAVAILABLE>>();
  /** Calls made to the issuer (tests and metrics read it). */
  calls = 0;

  constructor(
    private readonly keyManagerId: string,
    private readonly endpoint: () => Promise<string>,
    private readonly client: { id: string; secret: string },
    private readonly http: IssuerHttp,
    private readonly redis: Redis | Cluster | null,
    private readonly timing: IntrospectionTiming = DEFAULT_INTROSPECTION_TIMING,
    private readonly now: () => number = Date.now,
    private readonly onError: (err: Error) => void = () => {},
  ) {}

  introspect(token: string): Promise<IntrospectionAnswer | typeof UNAVAILABLE> {
    const tokenHash = hash('sha256', token, 'base64url');
    let pending = this.inflight.get(tokenHash);
    if (pending === undefined) {
      pending = this.lookup(token, tokenHash).finally(() => this.inflight.delete(tokenHash));
      this.inflight.set(tokenHash, pending);
    }
    return pending;
  }

  private async lookup(token: string, tokenHash: string): Promise<IntrospectionAnswer | typeof UNAVAILABLE> {
    const key = `idm:introspection:{${this.keyManagerId}}:${tokenHash}`;
    const cached = await this.cached(key);
    if (cached !== null) return cached;
    const answer = await this.ask(token);
    if (answer === UNAVAILABLE) return answer;
    const now = this.now();
    const until = answer.active ? Math.min(answer.reuseUntil, now + this.timing.maxPositiveTtlMs) : now + this.timing.negativeTtlMs;
    const stored: IntrospectionAnswer = answer.active ? { ...answer, reuseUntil: until } : answer;
    if (until > now) await this.redis?.set(key, JSON.stringify(stored), 'PX', until - now).catch((err: Error) => this.onError(err));
    return stored;
  }

  private async cached(key: string): Promise<IntrospectionAnswer | null> {
    if (this.redis === null) return null;
    try {
      const json = await this.redis.get(key);
      if (json === null) return null;
      const answer = JSON.parse(json) as IntrospectionAnswer;
      return answer.active && answer.reuseUntil <= this.now() ? null : answer;
    } catch (err) {
      this.onError(err as Error);
      return null;
    }
  }

  private async ask(token: string): Promise<IntrospectionAnswer | typeof UNAVAILABLE> {
    this.calls++;
    try {
      // RFC 6749 §2.3.1: client id and secret form-encoded before Basic encoding.
      const basic = Buffer.from(`${encodeURIComponent(this.client.id)}:${encodeURIComponent(this.client.secret)}`).toString('base64');
      const { body } = await this.http.json(await this.endpoint(), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      });
      const claims = body as Record<string, unknown> | null;
      if (typeof claims !== 'object' || claims === null || typeof claims.active !== 'boolean') throw new Error('the introspection answer has no boolean "active"');
      if (!claims.active) return { active: false };
      // Without exp the answer is reused for the bound only.
      const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : Infinity;
      return { active: true, claims, reuseUntil: exp };
    } catch (err) {
      this.onError(err as Error);
      return UNAVAILABLE;
    }
  }
}
