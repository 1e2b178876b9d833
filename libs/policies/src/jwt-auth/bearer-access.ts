import { AUTHORIZATION, presented } from '../authentication/presented';
import type { PolicyCompileDeps } from '../compile-dependencies';
import { credentialState } from '../credential-directory';
import type { DirectoryCredential, Identity, PolicyRejection, RequestContext } from '../policy';
import type { BearerRequirement } from './schema';

/**
 * What jwt-auth and oauth2-auth share: reading `Authorization: Bearer`, the RFC 6750 answers,
 * the credential check at validation time (a token outlives nothing it was issued for: a
 * deleted, disabled or expired credential stops it), and scope/role requirements compiled
 * once into per-method lists.
 */
export type BearerReason = 'missing_token' | 'invalid_token' | 'insufficient_scope';

export interface BearerRejections {
  readonly missing_token: PolicyRejection;
  readonly invalid_token: PolicyRejection;
  readonly insufficient_scope: PolicyRejection;
  /** Token store down: never mistaken for a bad token. */
  readonly unavailable: PolicyRejection;
}

export function bearerRejections(realm: string): BearerRejections {
  const challenge = (extra: string) => Object.freeze({ 'www-authenticate': `Bearer realm="${realm}"${extra}` });
  return Object.freeze({
    missing_token: Object.freeze({ status: 401, code: 'missing_token', message: 'A bearer token is required', headers: challenge('') }),
    invalid_token: Object.freeze({ status: 401, code: 'invalid_token', message: 'The bearer token is not valid', headers: challenge(', error="invalid_token"') }),
    insufficient_scope: Object.freeze({ status: 403, code: 'insufficient_scope', message: 'The bearer token lacks a required scope or role', headers: challenge(', error="insufficient_scope"') }),
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

export class BearerRequirements {
  private readonly byMethod: ReadonlyMap<string, BearerRequirement>;

  constructor(
    private readonly required: BearerRequirement,
    methods: Record<string, BearerRequirement>,
  ) {
    this.byMethod = new Map(
      Object.entries(methods).map(([m, r]) => [m, { scopes: [...required.scopes, ...r.scopes], roles: [...required.roles, ...r.roles] }]),
    );
  }

  /** `scopes` is the token's granted scope list; `roles` those of the token (JWT) or credential (opaque). */
  satisfiedBy(method: string, scopes: readonly string[], roles: readonly string[]): boolean {
    const need = this.byMethod.get(method) ?? this.required;
    return need.scopes.every((s) => scopes.includes(s)) && need.roles.every((r) => roles.includes(r));
  }
}

/** The token's credential, if it still exists in this revision, belongs to the proxy's project and may authenticate. */
export function liveCredential(deps: PolicyCompileDeps, credentialId: unknown): DirectoryCredential | undefined {
  if (typeof credentialId !== 'string') return undefined;
  const credential = deps.directory.findById(credentialId);
  if (!credential || credential.projectId !== deps.proxy.projectId) return undefined;
  return credentialState(credential, deps.now()) === 'ok' ? credential : undefined;
}

export function splitScope(scope: unknown): readonly string[] {
  return typeof scope === 'string' && scope !== '' ? scope.split(' ') : [];
}

/**
 * The identity of a proxy's own token-service client (`/auth`, client_credentials): the client
 * id is the proxy's key, there is no credential, so no credential rules apply. Null when the
 * policy has no token service (tokens issued under an earlier configuration then fail).
 */
export function proxyClientIdentity(deps: PolicyCompileDeps, clientId: string | undefined): Identity | null {
  return clientId === undefined ? null : Object.freeze({ credentialId: clientId, username: clientId, projectId: deps.proxy.projectId });
}

/**
 * Epoch seconds at which the proxy's current deployment started (snapshot `deployedAt`), or 0.
 * A token issued through the proxy's policy before that is refused, so undeploying (or deleting)
 * a proxy ends its tokens even if it is deployed again later.
 */
export function deploymentStartSeconds(deps: PolicyCompileDeps): number {
  const deployedAt = (deps.proxy as { deployedAt?: string | null }).deployedAt;
  const ms = typeof deployedAt === 'string' ? Date.parse(deployedAt) : NaN;
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}
