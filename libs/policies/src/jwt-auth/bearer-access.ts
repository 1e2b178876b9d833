import { establish, establishWithoutCredential } from '../authentication/establish';
import { AUTHORIZATION, presented, type CredentialSource } from '../authentication/presented';
import type { PolicyCompileDeps } from '../compile-dependencies';
import { credentialState } from '../credential-directory';
import type { DirectoryCredential, Identity, PolicyOutcome, PolicyRejection, RequestContext } from '../policy';
import { SenderConstraint } from '../sender-constraint/sender-constraint';
import type { BearerRequirement, JwtAuthConfig } from './schema';

/**
 * What jwt-auth and oauth2-auth share: reading `Authorization: Bearer`, the RFC 6750 answers,
 * the credential check at validation time (a token outlives nothing it was issued for: a
 * deleted, disabled or expired credential stops it), the binding of tokens issued through a
 * proxy's own client, and scope/role requirements compiled once into per-method lists.
 */
export class BearerAccess {
  readonly rejections: BearerRejections;
  /** The binding of DPoP- and certificate-bound tokens. */
  readonly sender: SenderConstraint;
  private readonly requirements: BearerRequirements;
  /** Set when the policy carries a token-service client (`/auth`): the identity of tokens issued to it. */
  private readonly proxyClient: Identity | null;
  private readonly deployedSince: number;
  /** Where the token was read when the policy strips it, else null. */
  private readonly strip: CredentialSource | null;

  constructor(
    config: Pick<JwtAuthConfig, 'required' | 'methods' | 'stripAuthorization' | 'tokenService' | 'dpop'>,
    private readonly deps: PolicyCompileDeps,
  ) {
    this.rejections = bearerRejections(deps.proxy.basePath);
    this.sender = new SenderConstraint(config.dpop, deps);
    this.requirements = new BearerRequirements(config.required, config.methods);
    this.proxyClient = proxyClientIdentity(deps, config.tokenService?.clientId);
    this.deployedSince = deploymentStartSeconds(deps);
    this.strip = config.stripAuthorization ? AUTHORIZATION : null;
  }

  /**
   * A token issued through a proxy's policy (`/auth`) passes only on that proxy, only while the
   * policy keeps the client it was issued to, and only if issued since the current deployment.
   */
  issuedForThisProxy(proxyId: unknown, clientId: unknown, issuedAt: unknown): boolean {
    return (
      proxyId === this.deps.proxy.id && this.proxyClient !== null && clientId === this.proxyClient.credentialId && typeof issuedAt === 'number' && issuedAt >= this.deployedSince
    );
  }

  /** The token's credential, if it still exists in this revision, belongs to the proxy's project and may authenticate. */
  credentialOf(credentialId: unknown): DirectoryCredential | undefined {
    if (typeof credentialId !== 'string') return undefined;
    const credential = this.deps.directory.findById(credentialId);
    if (!credential || credential.projectId !== this.deps.proxy.projectId) return undefined;
    return credentialState(credential, this.deps.now()) === 'ok' ? credential : undefined;
  }

  /**
   * Checks what the request's method requires of the token, then establishes the identity: the
   * credential's, or with null that of the proxy's own client (checked by issuedForThisProxy).
   */
  admit(ctx: RequestContext, credential: DirectoryCredential | null, scope: unknown, roles: readonly string[]): PolicyOutcome {
    if (!this.requirements.satisfiedBy(ctx.method, splitScope(scope), roles)) return this.rejections.insufficient_scope;
    return credential === null ? establishWithoutCredential(ctx, this.proxyClient!, this.strip) : establish(ctx, credential, this.strip);
  }

  /** As `admit`, for a token of a key manager: the identity comes from its claims, no credential rules apply. */
  admitIssued(ctx: RequestContext, identity: Identity, scope: string, roles: readonly string[]): PolicyOutcome {
    if (!this.requirements.satisfiedBy(ctx.method, splitScope(scope), roles)) return this.rejections.insufficient_scope;
    return establishWithoutCredential(ctx, identity, this.strip);
  }
}

export interface BearerRejections {
  readonly missing_token: PolicyRejection;
  readonly invalid_token: PolicyRejection;
  readonly insufficient_scope: PolicyRejection;
  /** Token store down: never mistaken for a bad token. */
  readonly unavailable: PolicyRejection;
}

function bearerRejections(realm: string): BearerRejections {
  const challenge = (extra: string) => Object.freeze({ 'www-authenticate': `Bearer realm="${realm}"${extra}` });
  return Object.freeze({
    missing_token: Object.freeze({ status: 401, code: 'missing_token', message: 'A bearer token is required', headers: challenge('') }),
    invalid_token: Object.freeze({ status: 401, code: 'invalid_token', message: 'The bearer token is not valid', headers: challenge(', error="invalid_token"') }),
    insufficient_scope: Object.freeze({
      status: 403,
      code: 'insufficient_scope',
      message: 'The bearer token lacks a required scope or role',
      headers: challenge(', error="insufficient_scope"'),
    }),
    unavailable: Object.freeze({ status: 503, code: 'token_store_unavailable', message: 'Tokens cannot be checked right now' }),
  });
}

/** The token of `Authorization: Bearer <token>`, or undefined. The scheme is case-insensitive (RFC 7235). */
export function bearerToken(ctx: RequestContext): string | undefined {
  const header = presented(ctx, AUTHORIZATION);
  if (header === undefined || header.length < 8) return undefined;
  if (header.charCodeAt(6) !== 32 || header.slice(0, 6).toLowerCase() !== 'bearer') return undefined;
  const token = header.slice(7).trim();
  return token === '' ? undefined : token;
}

class BearerRequirements {
  private readonly byMethod: ReadonlyMap<string, BearerRequirement>;

  constructor(
    private readonly required: BearerRequirement,
    methods: Record<string, BearerRequirement>,
  ) {
    this.byMethod = new Map(Object.entries(methods).map(([m, r]) => [m, { scopes: [...required.scopes, ...r.scopes], roles: [...required.roles, ...r.roles] }]));
  }

  /** `scopes` is the token's granted scope list; `roles` those of the token (JWT) or credential (opaque). */
  satisfiedBy(method: string, scopes: readonly string[], roles: readonly string[]): boolean {
    const need = this.byMethod.get(method) ?? this.required;
    return need.scopes.every((s) => scopes.includes(s)) && need.roles.every((r) => roles.includes(r));
  }
}

function splitScope(scope: unknown): readonly string[] {
  return typeof scope === 'string' && scope !== '' ? scope.split(' ') : [];
}

/**
 * The identity of a proxy's own token-service client (`/auth`, client_credentials): the client
 * id is the proxy's key, there is no credential, so no credential rules apply. Null when the
 * policy has no token service (tokens issued under an earlier configuration then fail).
 */
function proxyClientIdentity(deps: PolicyCompileDeps, clientId: string | undefined): Identity | null {
  return clientId === undefined ? null : Object.freeze({ credentialId: clientId, username: clientId, projectId: deps.proxy.projectId });
}

/**
 * Epoch seconds at which the proxy's current deployment started (snapshot `deployedAt`), or 0.
 * A token issued through the proxy's policy before that is refused, so undeploying (or deleting)
 * a proxy ends its tokens even if it is deployed again later.
 */
function deploymentStartSeconds(deps: PolicyCompileDeps): number {
  const deployedAt = (deps.proxy as { deployedAt?: string | null }).deployedAt;
  const ms = typeof deployedAt === 'string' ? Date.parse(deployedAt) : NaN;
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}
