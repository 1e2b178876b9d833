import type { SnapshotSecret } from '@idm/config-bus';
import type { OpaqueTokenRecord, RevokedTokenIds, SigningKeyRing } from '@idm/tokens';
import type { PasswordVerificationCache } from './basic-auth/password-verification.cache';
import type { CredentialDirectory } from './credential-directory';
import type { FederatedPasswordSources } from './identity-sources/federated-passwords';
import type { DigestNonceStore } from './digest-auth/digest-nonce.store';
import type { KeyManagerDirectory } from './key-managers/trusted-issuer';
import type { Policy, RequestContext } from './policy';
import type { TokenQuotaStore } from './llm-route/token-quota.store';
import type { OidcSessionStore } from './oidc/session-store';
import type { RateLimitStore } from './rate-limit/rate-limit.store';
import type { SenderConstraintStores } from './sender-constraint/sender-constraint';

/** Live opaque access tokens, as the oauth2-auth policy needs them (the Gateway's token store). */
export interface OpaqueTokenLookup {
  /** null: unknown, expired or revoked. Throws TokenStoreUnavailable when the store cannot answer. */
  lookup(token: string): Promise<OpaqueTokenRecord | null>;
}

/**
 * The issuer URLs of this environment's token service (`<public URL>/credential` and `/auth`),
 * which jwt-auth accepts when its policy names none.
 */
export interface OwnIssuers {
  /** Configured (GATEWAY_PUBLIC_URL): exact, the same for every request. null: they follow each request's host. */
  readonly fixed: readonly string[] | null;
  /** Without `fixed`: true when `iss` is the issuer of the host this request came to (what minting there would have put). */
  isRequestIssuer(iss: string, ctx: RequestContext): boolean;
  /** The origin clients address (the public URL, or this request's scheme and host): the base of a DPoP proof's `htu`. */
  originOf?(ctx: RequestContext): string;
}

/** What a policy may use at compile time: the proxy it guards and the revision's shared state. */
export interface PolicyCompileDeps {
  proxy: { id: string; projectId: string; basePath: string };
  directory: CredentialDirectory;
  passwordCache: PasswordVerificationCache;
  /** Shared counters for rate limits and quotas; null when the host has none (such policies then fail to compile). */
  rateLimitStore: RateLimitStore | null;
  /** Shared LLM token counters (llm-route quotas); null when the host has none. */
  tokenQuotaStore?: TokenQuotaStore | null;
  /** Called when the store failed to answer (the rule's fail-open/closed setting decides the request). */
  onRateLimitStoreError: (err: unknown) => void;
  /** Milliseconds since the epoch; injectable so expiry is testable. */
  now: () => number;
  /** Opens SecretBox envelopes from the snapshot (digest HA1); absent: such policies fail to compile. */
  secrets?: { open(sealed: string): string } | null;
  /** Digest nonce signing key (shared by the installation's Gateways) and nonce-count store. */
  digest?: { nonceKey: Buffer; nonceStore: DigestNonceStore } | null;
  /** The environment's signing keys (jwt-auth); absent or empty: no JWT can verify. */
  keyRing?: SigningKeyRing;
  /** The environment's opaque token store (oauth2-auth); absent: such policies fail to compile. */
  opaqueTokens?: OpaqueTokenLookup | null;
  /** Environment name, which opaque tokens are bound to. */
  environment?: string;
  /** This environment's own token issuers (jwt-auth's default); absent: only a policy's explicit `issuers` are accepted. */
  issuers?: OwnIssuers | null;
  /** The project secrets the proxy's policies refer to, by id, sealed as published (JOSE policies open them with `secrets`). */
  projectSecrets?: ReadonlyMap<string, SnapshotSecret>;
  /** Fetches a partner's JWKS (JOSE policies' `jwks` key source); absent: the Gateway's undici fetcher. */
  fetchJwks?: import('./jose-keys/remote-jwks').JwksFetcher;
  /** Revoked JWT ids shared by the environment's Gateways (jwt-auth refuses them). */
  revokedJwts?: RevokedTokenIds | null;
  /** DPoP proof replay cache and nonces shared by the environment's Gateways; absent: DPoP-bound tokens are refused (503). */
  senderConstraint?: SenderConstraintStores | null;
  /** The environment's key managers (trusted issuers); absent: a policy listing key managers fails to compile. */
  keyManagers?: KeyManagerDirectory | null;
  /** Sessions of the `oidc` policy, shared by the environment's Gateways; absent: oidc proxies fail to compile. */
  oidcSessions?: OidcSessionStore | null;
  /** The environment's identity sources (LDAP, SQL); absent: a policy naming any fails to compile. */
  identitySources?: FederatedPasswordSources | null;
}

/** Turns a policy's validated config into its compiled form, once per revision. */
export type PolicyCompiler<Config> = (config: Config, deps: PolicyCompileDeps) => Policy;
