import type { JwtBearerSettings } from '@idm/domain';
import type { KeyManagerDirectory } from '@idm/policies';
import { decodeJsonObject, OAuthError, splitCompactJws } from '@idm/tokens';
import { isLoginAllowed } from '../oidc/end-user-password-validator';
import type { AuthenticatedClient, TokenClient, TokenClients } from '../serving/token-clients';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** Longer than any sensible assertion; refused before any parsing. */
const MAX_ASSERTION_LENGTH = 16_384;
/** A spent jti is remembered this much past the assertion's exp (the key managers' clock skew is at most this). */
const JTI_GRACE_SECONDS = 300;

/** Where spent assertion ids are recorded for every Gateway of the environment (`OidcStore.claimAssertion`: Redis SET NX). */
export interface AssertionIds {
  claimAssertion(scope: string, jti: string, ttlSeconds: number): Promise<boolean>;
}

/**
 * The JWT bearer grant (RFC 7523 §2.1, §3): the client (already authenticated) presents an
 * assertion of a key manager its settings trust. The key manager verifies it as it verifies
 * tokens at jwt-auth (its JWKS cache, algorithms, exp/nbf/iat with its skew, its audience and
 * required claims); here: `aud` must name this token endpoint or its issuer, `sub` and `jti`
 * are required, the assertion may live at most the client's `maxLifetimeSeconds`, and its `jti`
 * is accepted once per issuer on any Gateway. Every refusal is `invalid_grant` (RFC 7523 §3.1).
 */
export class JwtBearerGrant {
  constructor(
    private readonly ids: AssertionIds,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The owner of the token to issue: the end user `sub` names, or the client itself. */
  async ownerOf(params: URLSearchParams, client: AuthenticatedClient, clients: TokenClients, trusted: KeyManagerDirectory | null, issuer: string): Promise<TokenClient> {
    const settings = (client.settings as { jwtBearer?: JwtBearerSettings }).jwtBearer;
    if (!settings || client.proxyId !== undefined) throw new OAuthError('unauthorized_client', 'this client may not use the JWT bearer grant');
    const assertions = params.getAll('assertion');
    if (assertions.length !== 1 || !assertions[0]) throw new OAuthError('invalid_request', 'exactly one assertion is required');
    const assertion = assertions[0];
    const jws = assertion.length > MAX_ASSERTION_LENGTH ? null : splitCompactJws(assertion, MAX_ASSERTION_LENGTH);
    const unverified = jws ? decodeJsonObject(jws.payloadSegment) : null;
    if (!unverified) throw new OAuthError('invalid_grant', 'the assertion is not a signed JWT');
    const key = typeof unverified.iss === 'string' ? trusted?.byIssuer(unverified.iss) : undefined;
    if (!key || key.builtin || !key.enabled || !key.acceptsJwt || !settings.keyManagers.includes(key.name))
      throw new OAuthError('invalid_grant', "the assertion's issuer is not trusted for this client");
    const verdict = await key.verifyJwt(assertion);
    if (!verdict.ok) {
      if (verdict.unavailable) throw new OAuthError('temporarily_unavailable', "the assertion's issuer cannot be reached", 503);
      throw new OAuthError('invalid_grant', 'the assertion is not valid (signature, algorithm, key, time or required claims)');
    }
    const claims = verdict.claims;
    const audiences = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
    if (!audiences.some((a) => a === `${issuer}/token` || a === issuer)) throw new OAuthError('invalid_grant', 'the assertion is not addressed to this token endpoint (aud)');
    const { sub, jti, exp, iat } = claims;
    if (typeof sub !== 'string' || sub === '' || sub.length > 256) throw new OAuthError('invalid_grant', 'the assertion names no subject (sub)');
    if (typeof jti !== 'string' || jti === '' || jti.length > 256) throw new OAuthError('invalid_grant', 'the assertion has no jti');
    const now = this.clock() / 1000;
    const expiresAt = exp as number; // verifyJwt requires a numeric exp
    const start = typeof iat === 'number' ? Math.min(iat, now) : now;
    if (expiresAt - start > settings.maxLifetimeSeconds) throw new OAuthError('invalid_grant', `the assertion is valid for longer than ${settings.maxLifetimeSeconds} s`);
    const owner = settings.subject === 'client' ? client : endUserNamed(clients, client, sub, this.clock());
    // Redis unavailable: TokenStoreUnavailable, answered 503.
    if (!(await this.ids.claimAssertion(`jwt-bearer\n${key.issuer}`, jti, Math.ceil(expiresAt - now) + JTI_GRACE_SECONDS)))
      throw new OAuthError('invalid_grant', 'the assertion was already used (jti)');
    return owner;
  }
}

/** `sub` is the username of an end user of the client's project (as the password grant finds owners), who may sign in now. */
function endUserNamed(clients: TokenClients, client: AuthenticatedClient, username: string, now: number): TokenClient {
  const user = clients.findOwner(client.credential.projectId, username);
  if (!user || !isLoginAllowed(user, now)) throw new OAuthError('invalid_grant', "the assertion's subject is no end user of this client's project who may sign in");
  return user;
}
