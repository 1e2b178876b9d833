import { hash, randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import type { OpaqueTokenGrant, OpaqueTokenKind, OpaqueTokenRecord } from './opaque-token.record';
import { RECORD_JWT, RESTORE_TOKEN, REVOKE_CLIENT_FAMILIES, REVOKE_TOKEN, REVOKE_WHOLE_FAMILY, ROTATE_REFRESH } from './opaque-token.scripts';
import { TokenStoreUnavailable } from './token-store-unavailable';

/**
 * Opaque OAuth2 tokens in Redis. A token is a type prefix plus 32 random bytes; Redis keeps only
 * its SHA-256, so a dump of Redis holds no usable token. Every token belongs to a family (one
 * grant and its refreshes) so revoking a refresh token or detecting its reuse removes all of it.
 * Expiry is Redis TTL plus `expiresAt`, which also guards against TTL rounding.
 *
 * Any Redis failure surfaces as TokenStoreUnavailable. To fail fast rather than queue while
 * Redis is away, give this store a client built with `maxRetriesPerRequest: 1` (or
 * `enableOfflineQueue: false`) and a `commandTimeout`.
 */
export interface TokenLifetimes {
  accessTokenSeconds: number;
  /** Omitted: no refresh token is issued (client_credentials). */
  refreshTokenSeconds?: number;
}

export interface IssueOptions {
  /**
   * Revoke every token this client was issued with this option before (token settings
   * `deletePrevious`). Only grants issued with the option are indexed per client, so clients
   * without it cost no extra Redis memory.
   */
  replacePrevious?: boolean;
}

/** A JWT access token minted from a family (see `recordJwt`), handed back when the family is revoked. */
export interface FamilyJwt {
  jti: string;
  /** Epoch seconds. */
  exp: number;
}

export interface IssuedTokens {
  /** Families revoked by `replacePrevious`. */
  replacedFamilies?: string[];
  /** The JWTs minted from the replaced families. */
  replacedJwts?: FamilyJwt[];
  accessToken: string;
  accessTokenExpiresAt: number;
  refreshToken?: string;
  refreshTokenExpiresAt?: number;
  familyId: string;
}

export interface RotateRefreshRequest {
  /** The authenticated client; a refresh token only rotates for the client it was issued to. */
  clientId: string;
  accessTokenSeconds: number;
  refreshTokenSeconds: number;
  /** Narrower scope for the new access token (RFC 6749 §6); the refresh token keeps the grant's. */
  scope?: string;
  maxRefreshCount?: number;
  /**
   * The sender constraint the refresh request proved (DPoP key, client certificate). A refresh
   * token bound to one is rotated only when the same is proved; the new access token is bound
   * to what was proved (unbound when nothing was).
   */
  cnf?: OpaqueTokenGrant['cnf'];
}

export type RefreshRotation =
  /** `record` is the new access token's; `grantScope` the scope the new refresh token keeps. */
  | { outcome: 'rotated'; tokens: IssuedTokens & { refreshToken: string; refreshTokenExpiresAt: number }; record: OpaqueTokenRecord; grantScope: string }
  /** The token had already been used: its whole family is now revoked, `revokedJwts` with it. */
  | { outcome: 'reuse_detected'; familyId: string; revokedJwts: FamilyJwt[] }
  | { outcome: 'rejected'; reason: 'unknown_token' | 'client_mismatch' | 'refresh_limit_reached' | 'scope_not_granted' | 'binding_mismatch' };

export type RevocationResult = 'revoked' | 'unknown_token' | 'client_mismatch';

export interface OpaqueTokenStoreOptions {
  /** Namespace of every key this store writes. Default 'idm:tokens'. */
  keyPrefix?: string;
  /** Default cap on rotations of one grant. Default 1000. */
  maxRefreshCount?: number;
  /** Epoch milliseconds; injectable for tests. */
  clock?: () => number;
}

const PREFIX: Record<OpaqueTokenKind, string> = { access: 'idm_at_', refresh: 'idm_rt_' };
const TOKEN_SHAPE = /^idm_(at|rt)_[A-Za-z0-9_-]{43}$/;
const GRANT_FIELDS = ['clientId', 'credentialId', 'subject', 'scope', 'proxyId', 'environment', 'clientIp'] as const;

export class OpaqueTokenStore {
  private readonly keyPrefix: string;
  private readonly maxRefreshCount: number;
  private readonly clock: () => number;

  constructor(
    private readonly redis: Redis,
    options: OpaqueTokenStoreOptions = {},
  ) {
    this.keyPrefix = options.keyPrefix ?? 'idm:tokens';
    this.maxRefreshCount = options.maxRefreshCount ?? 1000;
    this.clock = options.clock ?? Date.now;
  }

  async issue(grant: OpaqueTokenGrant, lifetimes: TokenLifetimes, options: IssueOptions = {}): Promise<IssuedTokens> {
    requireLifetime(lifetimes.accessTokenSeconds);
    if (lifetimes.refreshTokenSeconds !== undefined) requireLifetime(lifetimes.refreshTokenSeconds);
    const clientKey = options.replacePrevious ? this.clientFamiliesKey(grant) : undefined;
    const [replacedFamilies, replacedJwts] = clientKey
      ? ((await this.guard(() => REVOKE_CLIENT_FAMILIES.run(this.redis, [clientKey], [this.familyKey('')]))) as [string[], string[]])
      : [];
    const now = this.nowSeconds();
    const familyId = randomBytes(16).toString('base64url');
    const base = { ...grantFields(grant), familyId, issuedAt: String(now), refreshCount: '0' };
    const accessToken = newToken('access');
    const accessKey = this.keyOf(accessToken)!;
    const issued: IssuedTokens = { accessToken, accessTokenExpiresAt: now + lifetimes.accessTokenSeconds, familyId };
    const tx = this.redis.multi();
    tx.hset(accessKey, { ...base, expiresAt: String(issued.accessTokenExpiresAt) }).expire(accessKey, lifetimes.accessTokenSeconds);
    const members = [accessKey];
    if (lifetimes.refreshTokenSeconds !== undefined) {
      issued.refreshToken = newToken('refresh');
      issued.refreshTokenExpiresAt = now + lifetimes.refreshTokenSeconds;
      const refreshKey = this.keyOf(issued.refreshToken)!;
      tx.hset(refreshKey, { ...base, expiresAt: String(issued.refreshTokenExpiresAt), used: '0' }).expire(refreshKey, lifetimes.refreshTokenSeconds);
      members.push(refreshKey);
    }
    const familyKey = this.familyKey(familyId);
    const familyTtl = Math.max(lifetimes.accessTokenSeconds, lifetimes.refreshTokenSeconds ?? 0);
    tx.sadd(familyKey, ...members).expire(familyKey, familyTtl);
    // The index outlives the family it names at most by the lifetime of this newest grant.
    if (clientKey) tx.sadd(clientKey, familyId).expire(clientKey, familyTtl);
    const replies = await this.guard(() => tx.exec());
    const failed = replies?.find(([error]) => error);
    if (!replies || failed) throw new TokenStoreUnavailable(failed?.[0] ?? new Error('transaction aborted'));
    if (replacedFamilies?.length) issued.replacedFamilies = replacedFamilies;
    if (replacedJwts?.length) issued.replacedJwts = familyJwts(replacedJwts);
    return issued;
  }

  /** The live record of a token; null when unknown, expired, revoked or an already used refresh token. */
  async lookup(token: string): Promise<OpaqueTokenRecord | null> {
    const key = this.keyOf(token);
    if (!key) return null;
    const fields = await this.guard(() => this.redis.hgetall(key));
    const record = toRecord(kindOf(token), fields);
    return record && fields.used !== '1' && record.expiresAt > this.nowSeconds() ? record : null;
  }

  /**
   * RFC 7009 revocation. A refresh token takes its whole family with it; an access token goes alone.
   * With `clientId`, a token issued to another client is left untouched.
   */
  async revoke(token: string, clientId?: string): Promise<RevocationResult> {
    return (await this.revokeInFamily(token, clientId)).result;
  }

  /**
   * `revoke`, also naming the family of a revoked token (even of an already used refresh token)
   * and, when a refresh token took its family with it, the JWTs minted from that family.
   */
  async revokeInFamily(token: string, clientId?: string): Promise<{ result: RevocationResult; familyId?: string; revokedJwts?: FamilyJwt[] }> {
    const key = this.keyOf(token);
    if (!key) return { result: 'unknown_token' };
    const whole = kindOf(token) === 'refresh' ? '1' : '0';
    const [result, familyId, jwts] = (await this.guard(() => REVOKE_TOKEN.run(this.redis, [key], [this.familyKey(''), whole, clientId ?? '']))) as [
      RevocationResult,
      string?,
      string[]?,
    ];
    return familyId === undefined ? { result } : { result, familyId, revokedJwts: familyJwts(jwts ?? []) };
  }

  /** Revokes a whole family by its id (a replayed authorization code); returns the JWTs minted from it. */
  async revokeFamily(familyId: string): Promise<FamilyJwt[]> {
    return familyJwts((await this.guard(() => REVOKE_WHOLE_FAMILY.run(this.redis, [this.familyKey(familyId)], []))) as string[]);
  }

  /**
   * Indexes a JWT access token minted from a family, so revoking the family hands it back; false
   * when the family is already revoked (or expired): the caller must then revoke the JWT itself.
   */
  async recordJwt(familyId: string, jti: string, exp: number): Promise<boolean> {
    const familyKey = this.familyKey(familyId);
    return (await this.guard(() => RECORD_JWT.run(this.redis, [familyKey, `${familyKey}:jwts`], [jti, exp, this.nowSeconds()]))) === 1;
  }

  /**
   * Writes a token's record back after Redis lost it (the caller got it from the durable copy
   * and checked it is neither revoked nor used). A token Redis still holds is left as it is;
   * false then, and for an expired record or a string that cannot be one of our tokens.
   */
  async restore(token: string, record: OpaqueTokenRecord): Promise<boolean> {
    const key = this.keyOf(token);
    const ttl = record.expiresAt - this.nowSeconds();
    if (!key || kindOf(token) !== record.kind || ttl <= 0) return false;
    const fields = {
      ...grantFields(record),
      familyId: record.familyId,
      issuedAt: String(record.issuedAt),
      expiresAt: String(record.expiresAt),
      refreshCount: String(record.refreshCount),
      ...(record.kind === 'refresh' && { used: '0' }),
    };
    const args = [ttl, ...Object.entries(fields).flat()];
    return (await this.guard(() => RESTORE_TOKEN.run(this.redis, [key, this.familyKey(record.familyId)], args))) === 1;
  }

  async rotateRefresh(refreshToken: string, request: RotateRefreshRequest): Promise<RefreshRotation> {
    requireLifetime(request.accessTokenSeconds);
    requireLifetime(request.refreshTokenSeconds);
    const presentedKey = this.keyOf(refreshToken);
    if (!presentedKey || kindOf(refreshToken) !== 'refresh') return { outcome: 'rejected', reason: 'unknown_token' };
    const now = this.nowSeconds();
    const accessToken = newToken('access');
    const nextRefreshToken = newToken('refresh');
    const args = [
      this.familyKey(''),
      request.clientId,
      now,
      request.accessTokenSeconds,
      request.refreshTokenSeconds,
      request.maxRefreshCount ?? this.maxRefreshCount,
      request.scope?.trim() ?? '',
      request.cnf?.jkt ?? '',
      request.cnf?.['x5t#S256'] ?? '',
    ];
    const keys = [presentedKey, this.keyOf(accessToken)!, this.keyOf(nextRefreshToken)!];
    // The third element: the grant's scope when rotated, the revoked family's JWTs on reuse.
    const [outcome, detail, third] = (await this.guard(() => ROTATE_REFRESH.run(this.redis, keys, args))) as [string, unknown, unknown];
    if (outcome === 'reuse_detected') return { outcome, familyId: detail as string, revokedJwts: familyJwts(third as string[]) };
    if (outcome !== 'rotated') return { outcome: 'rejected', reason: outcome as Extract<RefreshRotation, { outcome: 'rejected' }>['reason'] };
    const record = toRecord('access', pairsToObject(detail as string[]))!;
    const tokens = {
      accessToken,
      accessTokenExpiresAt: record.expiresAt,
      refreshToken: nextRefreshToken,
      refreshTokenExpiresAt: now + request.refreshTokenSeconds,
      familyId: record.familyId,
    };
    return { outcome: 'rotated', tokens, record, grantScope: third as string };
  }

  /** Redis key for a token, or null when the string cannot be one of our tokens. */
  private keyOf(token: string): string | null {
    if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) return null;
    return `${this.keyPrefix}:${kindOf(token) === 'access' ? 'at' : 'rt'}:${hash('sha256', token, 'base64url')}`;
  }

  private clientFamiliesKey(grant: OpaqueTokenGrant): string {
    return `${this.keyPrefix}:client:${grant.proxyId ?? ''}:${grant.clientId}`;
  }

  private familyKey(familyId: string): string {
    return `${this.keyPrefix}:family:${familyId}`;
  }

  private nowSeconds(): number {
    return Math.floor(this.clock() / 1000);
  }

  private async guard<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw new TokenStoreUnavailable(error);
    }
  }
}

function newToken(kind: OpaqueTokenKind): string {
  return PREFIX[kind] + randomBytes(32).toString('base64url');
}

function kindOf(token: string): OpaqueTokenKind {
  return token.startsWith(PREFIX.access) ? 'access' : 'refresh';
}

function requireLifetime(seconds: number): void {
  // A programming error in the caller's compiled config, not a client error.
  if (!Number.isInteger(seconds) || seconds <= 0) throw new RangeError(`token lifetime must be a positive whole number of seconds, got ${seconds}`);
}

function grantFields(grant: OpaqueTokenGrant): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const name of GRANT_FIELDS) if (grant[name] !== undefined) fields[name] = grant[name]!;
  // Flat hash fields, so the rotation script copies and compares them without decoding JSON.
  if (grant.cnf?.jkt !== undefined) fields.cnfJkt = grant.cnf.jkt;
  if (grant.cnf?.['x5t#S256'] !== undefined) fields.cnfX5t = grant.cnf['x5t#S256'];
  if (grant.authTime !== undefined) fields.authTime = String(grant.authTime);
  return fields;
}

/** `jti, exp` pairs as a script returns them. */
function familyJwts(flat: string[]): FamilyJwt[] {
  const jwts: FamilyJwt[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) jwts.push({ jti: flat[i], exp: Number(flat[i + 1]) });
  return jwts;
}

function pairsToObject(flat: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]] = flat[i + 1];
  return fields;
}

function toRecord(kind: OpaqueTokenKind, f: Record<string, string>): OpaqueTokenRecord | null {
  if (!f.familyId) return null;
  const record: OpaqueTokenRecord = {
    kind,
    clientId: f.clientId,
    subject: f.subject,
    scope: f.scope,
    environment: f.environment,
    issuedAt: Number(f.issuedAt),
    expiresAt: Number(f.expiresAt),
    familyId: f.familyId,
    refreshCount: Number(f.refreshCount),
  };
  if (f.credentialId !== undefined) record.credentialId = f.credentialId;
  if (f.proxyId !== undefined) record.proxyId = f.proxyId;
  if (f.clientIp !== undefined) record.clientIp = f.clientIp;
  if (f.authTime !== undefined && /^\d{1,12}$/.test(f.authTime)) record.authTime = Number(f.authTime);
  if (f.cnfJkt !== undefined || f.cnfX5t !== undefined) record.cnf = { ...(f.cnfJkt !== undefined && { jkt: f.cnfJkt }), ...(f.cnfX5t !== undefined && { 'x5t#S256': f.cnfX5t }) };
  return record;
}
