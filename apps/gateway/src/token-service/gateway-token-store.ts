import { createHash } from 'node:crypto';
import { refusalReason, TOKEN_LOOKUP, tokenLookupReplySchema, type TokenLookupRequest, type TokenPersistJob } from '@idm/config-bus';
import type { OpaqueTokenLookup } from '@idm/policies';
import {
  opaqueTokenRecordSchema,
  OpaqueTokenStore,
  type FamilyJwt,
  type IssueOptions,
  type IssuedTokens,
  type OpaqueTokenGrant,
  type OpaqueTokenRecord,
  type RefreshRotation,
  type RevokedJwtIds,
  type RotateRefreshRequest,
  type TokenLifetimes,
} from '@idm/tokens';
import type { ClientProxy } from '@nestjs/microservices';
import type { Queue } from 'bullmq';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { firstValueFrom, timeout } from 'rxjs';
import type { z } from 'zod';

/**
 * The Gateway's opaque tokens: live in Redis (`OpaqueTokenStore`, shared by every Gateway of the
 * environment, so a revocation on one is seen by all), with a durable copy queued to the Manager
 * (BullMQ -> PostgreSQL). When Redis no longer knows a token (restarted without persistence),
 * the Manager is asked over the bus: an access token is answered from its copy, a refresh token
 * is written back to Redis from its copy and then rotated as usual. A revoke always records a
 * revocation for the Manager, even of a token Redis no longer knows. Until the Manager has
 * written it, a short-lived tombstone in Redis keeps the fallback from resurrecting the token.
 * JWT access tokens minted from a refresh family are indexed with it (`recordJwt`): revoking the
 * family puts them on the environment's JWT revocation list, which every Gateway checks offline.
 */
const TOMBSTONE_SECONDS = 3600;
const ACCESS_TOKEN = /^idm_at_[A-Za-z0-9_-]{43}$/;
const REFRESH_TOKEN = /^idm_rt_[A-Za-z0-9_-]{43}$/;

/** The Manager's answer with the record this Gateway queued read back as a token record. */
const durableCopySchema = tokenLookupReplySchema.unwrap().extend({ record: opaqueTokenRecordSchema }).nullable();
type DurableCopy = z.infer<typeof durableCopySchema>;

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class GatewayTokenStore implements OpaqueTokenLookup {
  constructor(
    private readonly store: OpaqueTokenStore,
    private readonly redis: Redis,
    private readonly persistQueue: Pick<Queue<TokenPersistJob>, 'add'> | null,
    private readonly bus: Pick<ClientProxy, 'send'> | null,
    private readonly environment: string,
    private readonly lookupTimeoutMs: number,
    private readonly log: Logger,
    private readonly revokedJwts: Pick<RevokedJwtIds, 'revoke'> | null = null,
  ) {}

  async issue(grant: OpaqueTokenGrant, lifetimes: TokenLifetimes, options: IssueOptions = {}): Promise<IssuedTokens> {
    const issued = await this.store.issue(grant, lifetimes, options);
    for (const familyId of issued.replacedFamilies ?? []) await this.familyRevoked(familyId, []);
    await this.revokeJwts(issued.replacedJwts ?? []);
    await this.persistIssued(grant, issued, 0);
    return issued;
  }

  /**
   * Indexes a JWT access token minted from a family, so that revoking the family revokes it.
   * False when the family was revoked first (a concurrent reuse or revocation): the JWT is
   * revoked here then, and the caller must not hand it out.
   */
  async recordJwt(familyId: string, jti: string, exp: number): Promise<boolean> {
    if (await this.store.recordJwt(familyId, jti, exp)) return true;
    await this.revokeJwts([{ jti, exp }]);
    return false;
  }

  /** Revokes a family by its id (a replayed authorization code): its refresh tokens and the JWTs minted from it. */
  async revokeFamily(familyId: string): Promise<void> {
    await this.familyRevoked(familyId, await this.store.revokeFamily(familyId));
  }

  async lookup(token: string): Promise<OpaqueTokenRecord | null> {
    const record = await this.store.lookup(token);
    if (record || !ACCESS_TOKEN.test(token)) return record;
    return this.durableCopy(token);
  }

  /** `notBefore` (epoch seconds): a durable copy issued earlier is not brought back (a proxy client's earlier deployment). */
  async rotateRefresh(refreshToken: string, request: RotateRefreshRequest, notBefore = 0): Promise<RefreshRotation> {
    let rotation = await this.store.rotateRefresh(refreshToken, request);
    if (rotation.outcome === 'rejected' && rotation.reason === 'unknown_token' && (await this.restoreRefresh(refreshToken, request.clientId, notBefore))) {
      rotation = await this.store.rotateRefresh(refreshToken, request);
    }
    if (rotation.outcome === 'rotated') {
      await this.persist({ op: 'revoke', tokenHash: tokenHash(refreshToken) });
      await this.persistIssued(rotation.record, rotation.tokens, rotation.record.refreshCount, rotation.grantScope);
    } else if (rotation.outcome === 'reuse_detected') {
      await this.familyRevoked(rotation.familyId, rotation.revokedJwts);
    }
    return rotation;
  }

  /**
   * RFC 7009: a refresh token takes its family with it; another client's token is left alone.
   * A token Redis no longer knows is revoked in the durable copy all the same (its family too when
   * the copy names one); only a copy that shows another client's token is left alone.
   */
  async revoke(token: string, clientId: string): Promise<void> {
    const { result, familyId, revokedJwts } = await this.store.revokeInFamily(token, clientId);
    if (result === 'client_mismatch') return;
    let family = token.startsWith('idm_rt_') ? familyId : undefined;
    if (result === 'unknown_token') {
      if (!ACCESS_TOKEN.test(token) && !REFRESH_TOKEN.test(token)) return;
      const copy = await this.askManager(tokenHash(token));
      if (copy && copy.record.clientId !== clientId) return;
      await this.tombstone(tokenHash(token));
      await this.persist({ op: 'revoke', tokenHash: tokenHash(token) });
      family = copy?.kind === 'refresh' && copy.familyId ? copy.familyId : undefined;
      if (!family) return;
    }
    if (family) return this.familyRevoked(family, revokedJwts ?? []);
    await this.tombstone(tokenHash(token));
    await this.persist({ op: 'revoke', tokenHash: tokenHash(token) });
  }

  private async durableCopy(token: string, kind: 'access' | 'refresh' = 'access'): Promise<OpaqueTokenRecord | null> {
    const hash = tokenHash(token);
    const reply = await this.askManager(hash);
    if (!reply || reply.kind !== kind) return null;
    const record = reply.record;
    if (record.expiresAt <= Math.floor(Date.now() / 1000)) return null;
    const [revoked, familyRevoked] = await Promise.all([this.isTombstoned(hash), reply.familyId ? this.isTombstoned(`family:${reply.familyId}`) : false]);
    return revoked || familyRevoked ? null : { ...record, kind };
  }

  /** Writes a refresh token Redis lost back from its live durable copy; true when it is in Redis again. */
  private async restoreRefresh(token: string, clientId: string, notBefore: number): Promise<boolean> {
    if (!REFRESH_TOKEN.test(token)) return false;
    const record = await this.durableCopy(token, 'refresh');
    if (!record || record.clientId !== clientId || record.environment !== this.environment || record.issuedAt < notBefore) return false;
    return this.store.restore(token, record);
  }

  /**
   * The Manager's live copy of a token; null when it has none (or it is revoked or expired), cannot
   * answer, or answers something that is not a copy (logged; never trusted as a record).
   */
  private async askManager(hash: string): Promise<DurableCopy> {
    if (!this.bus) return null;
    const request: TokenLookupRequest = { tokenHash: hash, environment: this.environment };
    let reply: unknown;
    try {
      reply = await firstValueFrom(this.bus.send<unknown, TokenLookupRequest>(TOKEN_LOOKUP, request).pipe(timeout(this.lookupTimeoutMs)));
    } catch (err) {
      // The Manager is away: the token is unknown here, which is "invalid", not an outage of the store.
      this.log.warn({ err: { message: (err as Error)?.message } }, 'durable token lookup failed');
      return null;
    }
    const copy = durableCopySchema.safeParse(reply);
    if (copy.success) return copy.data;
    this.log.warn({ reason: refusalReason(copy.error) }, 'malformed tokens.lookup reply ignored');
    return null;
  }

  /** `grantScope`: the refresh token's scope when it differs from the (narrowed) access token's. */
  private async persistIssued(grant: OpaqueTokenGrant, issued: IssuedTokens, refreshCount: number, grantScope = grant.scope): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    const base = { ...grantOf(grant), familyId: issued.familyId, issuedAt: now, refreshCount };
    await this.persist({
      op: 'issue',
      tokenHash: tokenHash(issued.accessToken),
      kind: 'access',
      environment: grant.environment,
      familyId: issued.familyId,
      record: { ...base, kind: 'access', expiresAt: issued.accessTokenExpiresAt },
      expiresAt: issued.accessTokenExpiresAt * 1000,
    });
    if (issued.refreshToken) {
      await this.persist({
        op: 'issue',
        tokenHash: tokenHash(issued.refreshToken),
        kind: 'refresh',
        environment: grant.environment,
        familyId: issued.familyId,
        record: { ...base, scope: grantScope, kind: 'refresh', expiresAt: issued.refreshTokenExpiresAt },
        expiresAt: issued.refreshTokenExpiresAt! * 1000,
      });
    }
  }

  /** The token is live in Redis already; a failed enqueue costs durability, not the request. */
  private async persist(job: TokenPersistJob): Promise<void> {
    if (!this.persistQueue) return;
    try {
      await this.persistQueue.add(job.op, job, { removeOnComplete: true, removeOnFail: 1000, attempts: 5, backoff: { type: 'exponential', delay: 500 } });
    } catch (err) {
      this.log.warn({ err: { message: (err as Error)?.message }, op: job.op }, 'token persistence job could not be queued');
    }
  }

  /** After Redis revoked a family: its durable copy too, and the JWTs minted from it on every Gateway. */
  private async familyRevoked(familyId: string, jwts: FamilyJwt[]): Promise<void> {
    await this.tombstone(`family:${familyId}`);
    await this.persist({ op: 'revoke-family', familyId });
    await this.revokeJwts(jwts);
  }

  /** Throws TokenStoreUnavailable when Redis cannot take them (answered 503: the client retries). */
  private async revokeJwts(jwts: FamilyJwt[]): Promise<void> {
    for (const { jti, exp } of jwts) await this.revokedJwts?.revoke(jti, exp);
  }

  private async tombstone(id: string): Promise<void> {
    await this.redis.set(`idm:tokens:revoked:${id}`, '1', 'EX', TOMBSTONE_SECONDS).catch(() => undefined);
  }

  private async isTombstoned(id: string): Promise<boolean> {
    return (await this.redis.exists(`idm:tokens:revoked:${id}`).catch(() => 0)) === 1;
  }
}

function grantOf(g: OpaqueTokenGrant): OpaqueTokenGrant {
  const grant: OpaqueTokenGrant = { clientId: g.clientId, subject: g.subject, scope: g.scope, environment: g.environment };
  if (g.credentialId !== undefined) grant.credentialId = g.credentialId;
  if (g.proxyId !== undefined) grant.proxyId = g.proxyId;
  if (g.clientIp !== undefined) grant.clientIp = g.clientIp;
  if (g.cnf !== undefined) grant.cnf = g.cnf;
  if (g.authTime !== undefined) grant.authTime = g.authTime;
  return grant;
}
