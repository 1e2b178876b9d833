import { hash } from 'node:crypto';
import type { PolicyCompileDeps } from '../compile-dependencies';
import type { BearerAccess } from '../jwt-auth/bearer-access';
import type { PolicyOutcome, PolicyRejection, RequestContext } from '../policy';
import { PolicyConfigError } from '../policy-config.error';
import type { PresentedAccessToken } from '../sender-constraint/presented-access-token';
import { afterSenderConstraint } from '../sender-constraint/sender-constraint';
import type { IssuerVerdict, TrustedIssuer } from './trusted-issuer';

/** "Not responsible" (Ory Oathkeeper): the token is not a key manager's; the policy's own checks decide. */
export const NOT_THIRD_PARTY = Symbol('not a third-party token');
export type ThirdPartyOutcome = typeof NOT_THIRD_PARTY | PolicyOutcome | Promise<PolicyOutcome>;

const OWN_OPAQUE_TOKEN = /^idm_at_/;
const MAX_CACHED = 10_000;

interface ReusableVerdict {
  readonly issuer: TrustedIssuer;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly reuseUntil: number;
  readonly kid: string | null;
  readonly key: object | null;
  readonly tokenType: 'jwt' | 'opaque';
}

/**
 * Tokens of the key managers a proxy accepts (`keyManagers` of jwt-auth / oauth2-auth). The key
 * manager is picked by the token's `iss` (JWT) before any cryptography: a known issuer the proxy
 * does not list is refused with `issuer_not_allowed`, an unknown one is left to the policy's own
 * checks. A token without `iss` (opaque) is introspected at the listed key managers that take
 * opaque tokens, in order. Verdicts are reused until the token expires (JWT: while the issuer
 * still has the key it verified with; introspection: within the Gateway's cache bound), so the
 * common request costs one hash and one map lookup, like our own tokens. A token the issuer bound
 * to a key (`cnf.jkt`, RFC 9449) or a client certificate (`cnf.x5t#S256`, RFC 8705), in the JWT or
 * the introspection answer, is held to it on every request, reused verdict or not, by the same
 * SenderConstraint as our own tokens (proof, `htm`/`htu`, `iat`, `ath`, replay across Gateways).
 */
export class ThirdPartyBearer {
  /** False unless one of the listed key managers is our own token service (`builtin`). */
  readonly acceptsOwn: boolean;
  readonly upstreamHeaderNames: readonly string[];
  readonly notAllowed: PolicyRejection;
  private readonly unavailable: PolicyRejection;
  private readonly allowed: ReadonlySet<string>;
  private readonly opaqueIssuers: readonly TrustedIssuer[];
  private readonly verdicts = new Map<string, ReusableVerdict>();

  constructor(
    ids: readonly string[],
    private readonly deps: PolicyCompileDeps,
    private readonly access: BearerAccess,
  ) {
    const directory = deps.keyManagers;
    if (!directory) throw new PolicyConfigError([{ path: ['keyManagers'], message: 'this gateway has no key managers' }]);
    const issuers: TrustedIssuer[] = [];
    for (const id of ids) {
      const issuer = directory.byId(id);
      if (!issuer) continue; // deleted: its tokens are simply no longer accepted
      if (issuer.projectId !== null && issuer.projectId !== deps.proxy.projectId)
        throw new PolicyConfigError([{ path: ['keyManagers'], message: `key manager ${issuer.name} belongs to another project` }]);
      issuers.push(issuer);
    }
    this.acceptsOwn = issuers.some((i) => i.builtin);
    const external = issuers.filter((i) => !i.builtin && i.enabled);
    this.allowed = new Set(external.map((i) => i.id));
    this.opaqueIssuers = external.filter((i) => i.acceptsOpaque);
    this.upstreamHeaderNames = [...new Set(external.flatMap((i) => Object.values(i.claimMappings.headers)))];
    const challenge = Object.freeze({ 'www-authenticate': `Bearer realm="${deps.proxy.basePath}", error="invalid_token"` });
    this.notAllowed = Object.freeze({ status: 401, code: 'issuer_not_allowed', message: "The token's issuer is not accepted by this API", headers: challenge });
    this.unavailable = Object.freeze({ status: 503, code: 'issuer_unavailable', message: "The token's issuer cannot be asked right now" });
  }

  check(ctx: RequestContext, presented: PresentedAccessToken): ThirdPartyOutcome {
    const token = presented.token;
    const cacheKey = hash('sha256', token, 'base64url');
    const reused = this.verdicts.get(cacheKey);
    if (reused !== undefined) {
      if (this.stillValid(reused)) {
        attribute(ctx, reused.issuer, reused.tokenType);
        return this.bound(ctx, presented, reused.issuer, reused.claims);
      }
      this.verdicts.delete(cacheKey);
    }
    const iss = unverifiedIssuer(token);
    if (iss !== undefined) {
      const issuer = this.deps.keyManagers!.byIssuer(iss);
      if (issuer === undefined || issuer.builtin) return NOT_THIRD_PARTY;
      // Routed to a key manager the environment knows: its refusals are counted against it too.
      const tokenType = issuer.acceptsJwt ? 'jwt' : 'opaque';
      attribute(ctx, issuer, tokenType);
      if (!this.allowed.has(issuer.id)) return this.notAllowed;
      const verdict = issuer.acceptsJwt ? issuer.verifyJwt(token) : issuer.introspect(token);
      return verdict instanceof Promise
        ? verdict.then((v) => this.decide(ctx, presented, cacheKey, issuer, v, tokenType))
        : this.decide(ctx, presented, cacheKey, issuer, verdict, tokenType);
    }
    if (this.opaqueIssuers.length === 0 || OWN_OPAQUE_TOKEN.test(token)) return NOT_THIRD_PARTY;
    return this.introspectInTurn(ctx, presented, cacheKey, 0);
  }

  /** Opaque tokens carry no issuer: the listed key managers are asked in order until one knows it. */
  private async introspectInTurn(ctx: RequestContext, presented: PresentedAccessToken, cacheKey: string, from: number): Promise<PolicyOutcome> {
    let unavailable = false;
    for (let i = from; i < this.opaqueIssuers.length; i++) {
      const issuer = this.opaqueIssuers[i];
      const verdict = await issuer.introspect(presented.token);
      if (verdict.ok) {
        attribute(ctx, issuer, 'opaque');
        return this.decide(ctx, presented, cacheKey, issuer, verdict, 'opaque');
      }
      unavailable ||= verdict.unavailable;
    }
    return unavailable ? this.unavailable : this.access.rejections.invalid_token;
  }

  private decide(
    ctx: RequestContext,
    presented: PresentedAccessToken,
    cacheKey: string,
    issuer: TrustedIssuer,
    verdict: IssuerVerdict,
    tokenType: 'jwt' | 'opaque',
  ): PolicyOutcome | Promise<PolicyOutcome> {
    if (!verdict.ok) return verdict.unavailable ? this.unavailable : this.access.rejections.invalid_token;
    if (this.verdicts.size >= MAX_CACHED) this.verdicts.delete(this.verdicts.keys().next().value!);
    this.verdicts.set(cacheKey, { issuer, claims: verdict.claims, reuseUntil: verdict.reuseUntil, kid: verdict.kid, key: verdict.key, tokenType });
    return this.bound(ctx, presented, issuer, verdict.claims);
  }

  /** The token's binding (its proof may cost the shared replay check), then the identity. */
  private bound(ctx: RequestContext, presented: PresentedAccessToken, issuer: TrustedIssuer, claims: Readonly<Record<string, unknown>>): PolicyOutcome | Promise<PolicyOutcome> {
    return afterSenderConstraint(this.access.sender.enforce(claims.cnf, ctx, presented), () => this.admit(ctx, issuer, claims));
  }

  /** Same issuer object (a new revision rebuilds issuers, so verdicts are redone), not past its bound, key still published. */
  private stillValid(v: ReusableVerdict): boolean {
    if (this.deps.now() >= v.reuseUntil) return false;
    if (v.issuer.issuer === null || this.deps.keyManagers!.byIssuer(v.issuer.issuer) !== v.issuer || !this.allowed.has(v.issuer.id)) return false;
    return v.kid === null || v.key === null || v.issuer.stillTrusts(v.kid, v.key);
  }

  private admit(ctx: RequestContext, issuer: TrustedIssuer, claims: Readonly<Record<string, unknown>>): PolicyOutcome {
    const m = issuer.claimMappings;
    // A client's own token (client_credentials) may carry no subject: the client is who it is.
    const userId = claimText(claims[m.userId]) ?? claimText(claims.client_id);
    if (userId === undefined) return this.access.rejections.invalid_token;
    const roles = claimList(claims[m.roles]);
    ctx.tokenClientId = claimText(claims.client_id) ?? claimText(claims.azp) ?? null;
    const identity = { credentialId: userId, username: claimText(claims[m.username]) ?? userId, projectId: this.deps.proxy.projectId };
    const refused = this.access.admitIssued(ctx, identity, claimList(claims[m.scopes]).join(' '), roles);
    if (refused !== undefined) return refused;
    const headers = ctx.upstreamHeaders;
    headers['x-authenticated-issuer'] = issuer.name;
    if (roles.length > 0) headers['x-authenticated-userroles'] = roles.join(',');
    const tenant = m.tenant === undefined ? undefined : claimText(claims[m.tenant]);
    if (tenant !== undefined) headers['x-authenticated-tenant'] = tenant;
    for (const claim in m.headers) {
      const value = claims[claim];
      if (value === undefined || value === null) continue;
      headers[m.headers[claim]] = Array.isArray(value) ? value.join(',') : typeof value === 'object' ? JSON.stringify(value) : String(value as string | number | boolean);
    }
    return undefined;
  }
}

/** The auth record's issuer and token type: the key manager's exact `iss` (its name when it has none). */
function attribute(ctx: RequestContext, issuer: TrustedIssuer, tokenType: 'jwt' | 'opaque'): void {
  ctx.tokenIssuer = issuer.issuer ?? issuer.name;
  ctx.tokenType = tokenType;
}

/** The `iss` of a compact JWS's payload, read before verification only to pick the key manager; undefined when not a JWT with one. */
function unverifiedIssuer(token: string): string | undefined {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (second < 0 || token.indexOf('.', second + 1) >= 0 || second - first > 16_384) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(token.slice(first + 1, second), 'base64url').toString('utf8'));
    const iss = typeof payload === 'object' && payload !== null ? (payload as { iss?: unknown }).iss : undefined;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

function claimText(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

/** Roles and scopes arrive as arrays or as space- (or comma-) separated strings, depending on the issuer. */
function claimList(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value === 'string') return value.split(/[\s,]+/).filter(Boolean);
  return [];
}
