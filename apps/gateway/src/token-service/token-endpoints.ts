import type { ForwardedFor, PasswordVerificationCache, TokenCors, TokenServicePolicy } from '@idm/policies';
import { issuedLifetimeSeconds } from '@idm/domain';
import { confirmationOf, DPOP_ALGORITHMS, OAuthError, type SecretOpener, type TokenConfirmation } from '@idm/tokens';
import { compileCors, type TokenCorsPolicy } from '../http/token-cors';
import type { ActiveConfiguration } from '../serving/active-configuration';
import type { ServingRevision } from '../serving/serving-revision';
import { mayObtainTokens, type AuthenticatedClient, type TokenClient, type TokenClients } from '../serving/token-clients';
import { presentedClient } from './client-authentication';
import { tokenClientIp } from './token-client-ip';
import type { FailureSubject, TokenFailureLimits } from './token-failure-limits';
import type { GatewayTokenStore } from './gateway-token-store';
import { mintJwt } from './jwt-minter';
import { grantedScope } from './scope-resolution';
import { metadataFor } from './owner-metadata';
import type { EndUserPasswordValidator } from '../oidc/end-user-password-validator';
import type { VerifiedEmailRequirement } from '../oidc/verified-email-requirement';
import { authenticateClient, newGrant, requireGrant } from './token-grants';
import type { TokenCallSubject } from '../auth-records/auth-record-factory';
import { JWT_BEARER_GRANT, type JwtBearerGrant } from './jwt-bearer-grant';
import { provesBinding, tokenTypeOf, type BindingEvidence, type TokenRequestBinding } from './token-binding';

/** One token endpoint call, already read off the wire (form body or, where allowed, query). */
export interface TokenCall {
  issuer: string;
  authorization: string | undefined;
  params: URLSearchParams;
  /** True when the parameters came from the URL (GET): only clients with allowUrlParameters. */
  fromUrl: boolean;
  /** Request headers and socket peer: the client address recorded with a token. */
  headers?: Record<string, string | string[] | undefined>;
  peer?: string;
  /** Filled in as the call is decided, for its auth record: who presented itself, who authenticated. */
  subject?: TokenCallSubject;
  /** DPoP proof and TLS client certificate: what issued tokens are bound to (absent: bearer tokens). */
  binding?: BindingEvidence;
}

export interface TokenServiceOptions {
  surface: TokenSurface;
  /** `/credential`: from the environment (`/auth` takes each proxy client's own). */
  forwardedFor?: ForwardedFor;
  cors?: TokenCors;
  /** Failure limits on client secrets and resource-owner passwords, and how the caller's address is read for them. */
  failures?: { limits: TokenFailureLimits; addressOf: (peer: string, headers: Record<string, string | string[] | undefined>) => string };
  /** Sender-constrained tokens (DPoP, certificate-bound); absent: every token is a bearer token. */
  binding?: TokenRequestBinding;
  /** The OpenID Provider's authorization_code grant (`/credential` only); absent: that grant is unsupported. */
  authorizationCode?: { exchange(call: TokenCall): Promise<Body>; handlesRefresh(call: TokenCall): boolean; refresh(call: TokenCall): Promise<Body> };
  /** The JWT bearer grant (RFC 7523) of `/credential` clients with `jwtBearer` settings; absent: that grant is unsupported. */
  jwtBearer?: JwtBearerGrant;
  /** Resource owners of the password grant for clients that list identity sources (local and just-in-time provisioned end users). */
  owners?: EndUserPasswordValidator;
  /** The projects' "require a verified email to sign in" switch, applied to the password grant's end users; absent: not applied. */
  verifiedEmail?: VerifiedEmailRequirement;
}

export type TokenFormat = 'opaque' | 'jwt';
/** Which token service: `credential` (the environment's, under /credential: clients are credentials) or `auth` (the proxies', under /auth: clients are proxies' token-service settings). Not an HTTP auth realm. */
export type TokenSurface = 'credential' | 'auth';
type Body = Record<string, unknown>;

/** `never` is capped so every token still carries `exp`; the Manager bounds key retirement by the same cap. */
const lifetimeOf = issuedLifetimeSeconds;

/**
 * The token service of one prefix (`/credential` or `/auth`): issue (opaque or JWT), JWT regeneration,
 * introspection and revocation. Reads the serving revision at call time — the same one the proxy
 * path serves, its clients and verifiers indexed once per revision — so an undeployed proxy, a
 * deleted or disabled credential or a rotated key takes effect on the next call.
 */
export class TokenEndpoints {
  constructor(
    private readonly active: ActiveConfiguration,
    private readonly store: GatewayTokenStore,
    private readonly secrets: SecretOpener,
    private readonly passwords: PasswordVerificationCache,
    private readonly environment: string,
    private readonly options: TokenServiceOptions = { surface: 'credential' },
    private readonly clock: () => number = Date.now,
  ) {
    this.surface = options.surface;
    this.environmentCors = compileCors(options.cors ? [options.cors] : []);
  }

  private readonly surface: TokenSurface;
  private readonly environmentCors: TokenCorsPolicy | null;

  /** CORS of this prefix right now: the environment's (`/credential`) or the union of the deployed proxies' (`/auth`). */
  cors(): TokenCorsPolicy | null {
    if (this.surface === 'credential') return this.environmentCors;
    const serving = this.active.current;
    return serving ? serving.tokens.proxyClients.cors : null;
  }

  /**
   * The password grant's end user, when the project requires a verified email: refused with the
   * reason in the description (only a caller that knew the password gets this far, so it tells
   * nothing about which accounts exist; not counted as a failed password).
   */
  private async requireVerifiedEmail(owner: TokenClient): Promise<void> {
    const refuses = await this.options.verifiedEmail?.refuses(owner).catch(() => null);
    if (refuses === null) throw new OAuthError('temporarily_unavailable', 'whether the user must have a verified email cannot be read right now (verified_email_unknown)', 503);
    if (refuses) throw new OAuthError('invalid_grant', 'the resource owner has not verified their email address (email_not_verified)');
  }

  async token(call: TokenCall, format: TokenFormat): Promise<Body> {
    // Its clients may be public (no secret): the OpenID Provider authenticates them its own way.
    if (call.params.get('grant_type') === 'authorization_code' && this.options.authorizationCode && format === 'opaque') {
      if (call.fromUrl) throw new OAuthError('invalid_request', 'parameters must be sent form-encoded in a POST body');
      return this.options.authorizationCode.exchange(call);
    }
    if (call.params.get('grant_type') === 'refresh_token' && this.options.authorizationCode?.handlesRefresh(call) && format === 'opaque') {
      if (call.fromUrl) throw new OAuthError('invalid_request', 'parameters must be sent form-encoded in a POST body');
      return this.options.authorizationCode.refresh(call);
    }
    const { serving, clients, client, now, failureSubject } = await this.authenticate(call);
    const grantType = call.params.get('grant_type');
    const cnf = await this.confirmationOf(call);
    if (grantType === 'refresh_token') return this.refresh(call, format, serving, clients, client, now, cnf);
    const jwtBearer = grantType === JWT_BEARER_GRANT && this.surface === 'credential' ? this.options.jwtBearer : undefined;
    const { owner, scope } = await (
      jwtBearer
        ? jwtBearer
            .ownerOf(call.params, client, clients, serving.trustedIssuers ?? null, call.issuer)
            .then((owner) => ({ owner, scope: grantedScope(call.params.get('scope'), client.settings) }))
        : newGrant(grantType, call.params, client, clients, this.passwords, now, this.options.owners)
    ).catch(async (err: unknown) => {
      // Only the password grant checks a secret here: its invalid_grant is a wrong owner password.
      if (failureSubject && grantType === 'password' && err instanceof OAuthError && err.code === 'invalid_grant') await this.options.failures!.limits.ownerFailed(failureSubject);
      throw err;
    });
    if (call.subject && owner !== client) call.subject.credentialId = owner.credential.id;
    if (grantType === 'password' && owner !== client) await this.requireVerifiedEmail(owner);
    const settings = client.settings;
    // RFC 6749 §4.4.3: no refresh token for client_credentials.
    const withRefresh = settings.refreshAllowed && grantType === 'password' && settings.grants.includes('refresh_token');
    const accessSeconds = lifetimeOf(settings.accessTokenLifetime);
    let refresh: { token?: string; familyId?: string } = {};
    let access: { token: string; expiresIn: number };
    if (format === 'opaque' || withRefresh) {
      const issued = await this.store.issue(
        {
          clientId: client.credential.id,
          subject: owner.credential.id,
          scope,
          environment: this.environment,
          // A proxy client's own token has no credential behind it (the policy then authenticates the client).
          ...(!(client.proxyId !== undefined && owner === client) && { credentialId: owner.credential.id }),
          ...(client.proxyId !== undefined && { proxyId: client.proxyId }),
          ...this.clientIpOf(call, client),
          ...(cnf !== undefined && { cnf }),
        },
        { accessTokenSeconds: accessSeconds, refreshTokenSeconds: withRefresh ? lifetimeOf(settings.refreshTokenLifetime) : undefined },
        { replacePrevious: settings.deletePrevious },
      );
      refresh = { token: issued.refreshToken, familyId: issued.familyId };
      access = { token: issued.accessToken, expiresIn: accessSeconds };
    }
    if (format === 'jwt') access = await this.jwt(call, serving, client, owner, scope, now, cnf, refresh.familyId);
    return this.tokenResponse(access!, refresh.token, scope, owner, cnf);
  }

  async regenerate(call: TokenCall): Promise<Body> {
    // A DPoP-bound JWT comes as `DPoP <jwt>` (with a proof), any other as `Bearer <jwt>`.
    const scheme = /^(bearer|dpop) /i.exec(call.authorization ?? '');
    const bearer = scheme ? call.authorization!.slice(scheme[0].length).trim() : '';
    if (!bearer) throw new OAuthError('invalid_request', 'the current JWT is required as a Bearer token');
    // Authorization carries the JWT, so the client authenticates with body parameters.
    const { serving, clients, client, now } = await this.authenticate({ ...call, authorization: undefined });
    const claims = ownJwtOf(serving, bearer, call.issuer, client);
    if (!claims) throw new OAuthError('invalid_grant', 'the presented JWT is not valid for this client');
    const owner = ownerOf(clients, client, String(claims.sub));
    if (!owner || !mayObtainTokens(owner, now)) throw new OAuthError('invalid_grant', 'the token owner can no longer obtain tokens');
    // A bound JWT is regenerated only by the holder of its key or certificate, and the new one stays bound.
    const bound = confirmationOf(claims.cnf);
    const cnf = await this.confirmationOf(call);
    if (bound === 'unreadable' || !provesBinding(bound ?? undefined, cnf))
      throw new OAuthError('invalid_grant', 'the presented JWT is bound to a key or certificate this request did not prove');
    const scope = typeof claims.scope === 'string' ? claims.scope : '';
    return this.tokenResponse(await this.jwt(call, serving, client, owner, scope, now, cnf), undefined, scope, owner, cnf);
  }

  async introspect(call: TokenCall): Promise<Body> {
    const { serving, clients, client, now } = await this.authenticate(call);
    const token = call.params.get('token');
    if (!token) throw new OAuthError('invalid_request', 'token is required');
    const inactive = { active: false };
    if (token.startsWith('idm_at_') || token.startsWith('idm_rt_')) {
      const record = await this.store.lookup(token);
      if (
        !record ||
        record.clientId !== client.credential.id ||
        record.environment !== this.environment ||
        record.proxyId !== client.proxyId ||
        record.issuedAt < (client.notBefore ?? 0)
      )
        return inactive;
      const owner = ownerOf(clients, client, record.credentialId ?? record.subject);
      if (!owner || !mayObtainTokens(owner, now)) return inactive;
      return {
        active: true,
        scope: record.scope,
        client_id: record.clientId,
        sub: record.subject,
        username: owner.credential.username,
        token_type: record.kind === 'access' ? tokenTypeOf(record.cnf) : 'refresh_token',
        exp: record.expiresAt,
        iat: record.issuedAt,
        iss: call.issuer,
        ...(record.clientIp !== undefined && { client_ip: record.clientIp }),
        ...(record.cnf !== undefined && { cnf: record.cnf }),
      };
    }
    const claims = ownJwtOf(serving, token, call.issuer, client);
    if (!claims) return inactive;
    const owner = ownerOf(clients, client, String(claims.sub));
    if (!owner || !mayObtainTokens(owner, now)) return inactive;
    const { scope, client_id, sub, exp, iat, nbf, aud, iss, jti, cnf } = claims;
    const confirmation = confirmationOf(cnf);
    if (confirmation === 'unreadable') return inactive;
    const bound = confirmation ?? undefined;
    return { active: true, scope, client_id, sub, username: owner.credential.username, token_type: tokenTypeOf(bound), exp, iat, nbf, aud, iss, jti, ...(bound && { cnf: bound }) };
  }

  /**
   * RFC 7009 §2.2: 200 whether the token was known, foreign or already gone. A JWT of this client
   * goes on the environment's revocation list until it expires (every Gateway's jwt-auth and
   * introspection refuse it); if Redis cannot take it, 503 so the client retries.
   */
  async revoke(call: TokenCall): Promise<void> {
    const { client } = await this.authenticate(call);
    const token = call.params.get('token');
    if (!token) throw new OAuthError('invalid_request', 'token is required');
    if (token.startsWith('idm_at_') || token.startsWith('idm_rt_')) await this.store.revoke(token, client.credential.id);
    else await this.revokeJwt(token, client);
  }

  metadata(issuer: string): Body {
    return {
      issuer,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      introspection_endpoint: `${issuer}/introspect`,
      revocation_endpoint: `${issuer}/revoke`,
      grant_types_supported: ['client_credentials', 'password', 'refresh_token', ...(this.options.jwtBearer ? [JWT_BEARER_GRANT] : [])],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      response_types_supported: [],
      // Not in RFC 8414: where JWT access tokens are issued and regenerated.
      jwt_endpoint: `${issuer}/jwt`,
      jwt_regenerate_endpoint: `${issuer}/jwt/regenerate`,
      // RFC 9449 §5.1 and RFC 8705 §3.3: tokens are bound to a DPoP proof's key or the TLS client certificate presented.
      ...(this.options.binding !== undefined && { dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS], tls_client_certificate_bound_access_tokens: true }),
    };
  }

  jwks(): Body {
    const serving = this.active.current;
    return serving ? serving.keyRing.jwks(this.clock()) : { keys: [] };
  }

  private async authenticate(
    call: TokenCall,
  ): Promise<{ serving: ServingRevision; clients: TokenClients; client: AuthenticatedClient; now: number; failureSubject?: FailureSubject }> {
    const serving = this.active.current;
    if (!serving) throw new OAuthError('temporarily_unavailable', 'the gateway has no configuration yet', 503);
    const presented = presentedClient(call.authorization, call.params);
    if (call.subject) {
      call.subject.clientId = presented.clientId;
      if (call.params.get('grant_type') === 'password') call.subject.username = call.params.get('username');
    }
    const failureSubject = this.failureSubjectOf(call, presented.clientId);
    // Before any secret is verified: a refused guess costs no argon2 and learns nothing.
    if (failureSubject) this.options.failures!.limits.check(failureSubject);
    const clients = serving.tokens.clients;
    const now = this.clock();
    let client: AuthenticatedClient;
    try {
      client =
        this.surface === 'auth'
          ? serving.tokens.proxyClients.authenticate(presented.clientId, presented.clientSecret)
          : await authenticateClient(clients, presented, this.passwords, now);
    } catch (err) {
      if (failureSubject && err instanceof OAuthError && err.code === 'invalid_client') await this.options.failures!.limits.clientFailed(failureSubject);
      throw err;
    }
    if (call.subject) {
      // The record names the client as the tokens it gets do (and bearer records then), the name it presented stays its username.
      call.subject.username ??= presented.clientId;
      call.subject.clientId = client.credential.id;
      call.subject.credentialId = client.proxyId === undefined ? client.credential.id : null;
      call.subject.proxyId = client.proxyId ?? null;
      call.subject.projectId = client.credential.projectId;
    }
    if (call.fromUrl && !client.settings.allowUrlParameters) throw new OAuthError('invalid_request', 'parameters must be sent form-encoded in a POST body');
    return { serving, clients, client, now, failureSubject };
  }

  private failureSubjectOf(call: TokenCall, clientId: string): FailureSubject | undefined {
    const failures = this.options.failures;
    if (!failures) return undefined;
    const username = call.params.get('grant_type') === 'password' ? call.params.get('username') : null;
    const address = failures.addressOf(call.peer ?? '', call.headers ?? {});
    return { surface: this.surface, clientId, address, ...(username ? { username } : {}) };
  }

  private async refresh(
    call: TokenCall,
    format: TokenFormat,
    serving: ServingRevision,
    clients: TokenClients,
    client: AuthenticatedClient,
    now: number,
    cnf: TokenConfirmation | undefined,
  ): Promise<Body> {
    requireGrant(client, 'refresh_token');
    const settings = client.settings;
    if (!settings.refreshAllowed) throw new OAuthError('unauthorized_client', 'this client may not refresh tokens');
    const presented = call.params.get('refresh_token');
    if (!presented) throw new OAuthError('invalid_request', 'refresh_token is required');
    if (client.notBefore) {
      // A refresh token from an earlier deployment of the proxy must not mint tokens for this one.
      const before = await this.store.lookup(presented);
      if (before && before.issuedAt < client.notBefore) throw new OAuthError('invalid_grant', 'the refresh token is invalid');
    }
    const requested = call.params.get('scope');
    const accessSeconds = lifetimeOf(settings.accessTokenLifetime);
    const rotation = await this.store.rotateRefresh(
      presented,
      {
        clientId: client.credential.id,
        accessTokenSeconds: accessSeconds,
        refreshTokenSeconds: lifetimeOf(settings.refreshTokenLifetime),
        // An empty scope asks for nothing narrower: the grant's scope, not the client's whole set.
        scope: requested === null || requested.trim() === '' ? undefined : grantedScope(requested, settings),
        maxRefreshCount: settings.maxRefreshCount ?? undefined,
        cnf,
      },
      client.notBefore,
    );
    if (rotation.outcome === 'reuse_detected') throw new OAuthError('invalid_grant', 'the refresh token was already used; every token of its grant is revoked');
    // RFC 6749 §6: a scope beyond the original grant is a scope error, and the refresh token stays usable.
    if (rotation.outcome === 'rejected' && rotation.reason === 'scope_not_granted')
      throw new OAuthError('invalid_scope', 'the requested scope exceeds the scope originally granted');
    // RFC 9449 §5: a bound refresh token is used only with a proof by its key; it stays unused for its holder.
    if (rotation.outcome === 'rejected' && rotation.reason === 'binding_mismatch')
      throw new OAuthError('invalid_grant', 'the refresh token is bound to a DPoP key or client certificate this request did not prove');
    if (rotation.outcome === 'rejected')
      throw new OAuthError('invalid_grant', rotation.reason === 'refresh_limit_reached' ? 'the refresh limit of this grant is reached' : 'the refresh token is invalid');
    const { record, tokens } = rotation;
    const owner = ownerOf(clients, client, record.credentialId ?? record.subject);
    if (!owner || !mayObtainTokens(owner, now)) {
      await this.store.revoke(tokens.refreshToken, client.credential.id);
      throw new OAuthError('invalid_grant', 'the token owner can no longer obtain tokens');
    }
    const access =
      format === 'jwt' ? await this.jwt(call, serving, client, owner, record.scope, now, cnf, tokens.familyId) : { token: tokens.accessToken, expiresIn: accessSeconds };
    return this.tokenResponse(access, tokens.refreshToken, record.scope, owner, cnf);
  }

  /**
   * `familyId`: the refresh family the JWT is minted from; it is indexed with it, so revoking the
   * family (reuse, revocation, deletePrevious) revokes the JWT too.
   */
  private async jwt(
    call: TokenCall,
    serving: ServingRevision,
    client: AuthenticatedClient,
    owner: TokenClient,
    scope: string,
    now: number,
    cnf: TokenConfirmation | undefined,
    familyId?: string,
  ) {
    const lifetime = lifetimeOf(client.settings.accessTokenLifetime);
    const minted = await mintJwt(
      serving.keyRing,
      this.secrets,
      { issuer: call.issuer, client, owner, scope, audience: audienceFor(serving, client, owner, call.params.get('resource')), lifetimeSeconds: lifetime, cnf },
      now,
    );
    if (familyId !== undefined && !(await this.store.recordJwt(familyId, minted.jti, minted.expiresAt)))
      throw new OAuthError('invalid_grant', 'the grant was revoked while the token was issued');
    return { token: minted.token, expiresIn: lifetime };
  }

  /** What tokens issued on this call are bound to; undefined: bearer tokens. */
  private async confirmationOf(call: TokenCall): Promise<TokenConfirmation | undefined> {
    const binding = this.options.binding;
    return binding === undefined || call.binding === undefined ? undefined : binding.confirmationOf(call.binding);
  }

  /** The DPoP-Nonce every answer of this prefix carries while nonces are required. */
  dpopNonce(): string | undefined {
    return this.options.binding?.nonce();
  }

  private tokenResponse(access: { token: string; expiresIn: number }, refreshToken: string | undefined, scope: string, owner: TokenClient, cnf?: TokenConfirmation): Body {
    const extra = metadataFor(owner.credential, 'includeInTokenResponse', this.secrets);
    return {
      ...extra,
      access_token: access.token,
      token_type: tokenTypeOf(cnf),
      expires_in: access.expiresIn,
      ...(refreshToken !== undefined && { refresh_token: refreshToken }),
      ...(scope !== '' && { scope }),
    };
  }

  private clientIpOf(call: TokenCall, client: AuthenticatedClient): { clientIp?: string } {
    const rules = (client.settings as Partial<TokenServicePolicy>).forwardedFor ?? this.options.forwardedFor ?? { header: null, order: 'FIRST' as const };
    const clientIp = tokenClientIp(rules, call.headers ?? {}, call.peer);
    return clientIp === undefined ? {} : { clientIp };
  }

  /** Only a token this Gateway's keys signed for this very client; anything else is ignored, as RFC 7009 asks. */
  private async revokeJwt(token: string, client: AuthenticatedClient): Promise<void> {
    const serving = this.active.current;
    const revoked = this.active.revokedJwts;
    if (!serving || !revoked) return;
    const verified = serving.tokens.ownJwtsIgnoringRevocations.verify(token);
    if (!verified.ok || verified.claims.client_id !== client.credential.id || verified.claims.proxy_id !== client.proxyId) return;
    const { jti, exp } = verified.claims;
    if (typeof jti !== 'string' || typeof exp !== 'number') return;
    // Redis unavailable: TokenStoreUnavailable, answered 503 so the client retries.
    await revoked.revoke(jti, exp);
  }
}

/**
 * `/credential`: the base paths of the owner's project's proxies in this environment; `/auth`:
 * the client's proxy (its id and base path, what jwt-auth accepts by default). `resource`
 * (RFC 8707) narrows to one base path.
 */
function audienceFor(serving: ServingRevision, client: AuthenticatedClient, owner: TokenClient, resource: string | null): string[] {
  const proxy = client.proxyId === undefined ? undefined : serving.tokens.proxyClients.forProxy(client.proxyId)?.proxy;
  if (proxy) {
    if (resource !== null && resource !== proxy.basePath) throw new OAuthError('invalid_request', 'resource is not the API of this client');
    return [proxy.id, proxy.basePath];
  }
  const paths = serving.tokens.projectBasePaths.get(owner.credential.projectId) ?? [];
  if (resource === null) return [...paths];
  if (!paths.includes(resource)) throw new OAuthError('invalid_request', "resource is not an API of this client's project");
  return [resource];
}

/** Whose token it is: a proxy client owns tokens whose subject is its own id; anyone else is a credential of the client's project. */
function ownerOf(clients: TokenClients, client: AuthenticatedClient, id: string): TokenClient | undefined {
  if (client.proxyId !== undefined && id === client.credential.id) return client;
  const owner = clients.findById(id);
  return owner && owner.credential.projectId === client.credential.projectId ? owner : undefined;
}

/** A JWT of ours, issued here to this client (for its proxy, since its deployment): its claims, else null. */
function ownJwtOf(serving: ServingRevision, token: string, issuer: string, client: AuthenticatedClient) {
  const verified = serving.tokens.ownJwts.verify(token);
  if (!verified.ok) return null;
  const { claims } = verified;
  const ours = claims.iss === issuer && claims.client_id === client.credential.id && claims.proxy_id === client.proxyId && Number(claims.iat) >= (client.notBefore ?? 0);
  return ours ? claims : null;
}
