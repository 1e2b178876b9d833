import { z } from 'zod';
import { SIGNING_ALGORITHMS } from './signing-key.schema';
import { entityName } from './names.schema';
import { NEVER_EXPIRES_CAP_SECONDS } from './token-lifetime-cap';

/**
 * How a client gets tokens from the Gateway's token service (Apinizer's model): which grants,
 * how long tokens live, whether and how often they refresh, and what goes into a JWT. Lives on a
 * credential (the `/credential` prefix) or on a proxy's token policy (the `/auth` prefix).
 */
export const tokenLifetimeSchema = z.union([
  z.literal('never'),
  z.strictObject({ amount: z.number().int().min(1).max(1_000_000), unit: z.enum(['seconds', 'minutes', 'hours', 'days']) }),
]);
export type TokenLifetime = z.infer<typeof tokenLifetimeSchema>;

const UNIT_SECONDS = { seconds: 1, minutes: 60, hours: 3600, days: 86400 } as const;
/** Seconds, or null for tokens that never expire. */
export function lifetimeSeconds(lifetime: TokenLifetime): number | null {
  return lifetime === 'never' ? null : lifetime.amount * UNIT_SECONDS[lifetime.unit];
}

/** The lifetime a token is issued with, in seconds. */
export const issuedLifetimeSeconds = (lifetime: TokenLifetime): number => lifetimeSeconds(lifetime) ?? NEVER_EXPIRES_CAP_SECONDS;

export const OAUTH_GRANTS = ['client_credentials', 'password', 'refresh_token', 'authorization_code'] as const;
export const JWT_CLAIM_SOURCES = ['username', 'email', 'fullName', 'roles', 'credentialId'] as const;
const scope = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/, 'must be an RFC 6749 scope token');

/**
 * A redirect URI as registered and matched: absolute, exact (compared as strings, never as
 * prefixes or patterns), no fragment (RFC 6749 §3.1.2); https, or http on a loopback host
 * (RFC 8252 §7.3), or a private-use scheme of a native app (`com.example.app:/cb`). Never
 * `javascript:`, `data:` or `file:`.
 */
export const redirectUri = z
  .string()
  .max(2048)
  .refine((value) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return false;
    }
    if (value.includes('#') || /[\s<>"]/.test(value)) return false;
    if (url.protocol === 'https:') return url.hostname !== '';
    if (url.protocol === 'http:') return ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
    return /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(url.protocol) && !['javascript:', 'data:', 'file:', 'vbscript:'].includes(url.protocol);
  }, 'must be an absolute https URL (http only on localhost/127.0.0.1/[::1], or a reverse-DNS private-use scheme) without a fragment')
  .meta({ format: 'uri' });

/** How a client proves itself at the token endpoint (RFC 7591 §2 names). */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
/**
 * A public key of a `private_key_jwt` client (RFC 7517): RSA, EC or OKP, never a private or
 * symmetric member — the Manager would otherwise store a secret in the clear.
 */
const publicJwk = z
  .record(z.string(), z.unknown())
  .refine((k) => ['RSA', 'EC', 'OKP'].includes(k.kty as string), 'kty must be RSA, EC or OKP')
  .refine((k) => PRIVATE_JWK_MEMBERS.every((m) => !(m in k)), 'must be a public key (no private or symmetric members)')
  .refine((k) => k.kid === undefined || (typeof k.kid === 'string' && k.kid.length <= 200), 'kid must be a string');

/**
 * Where a `private_key_jwt` client publishes its keys (OIDC Dynamic Client Registration's
 * `jwks_uri`): https, or http on a loopback host only (a development client); no user info, no
 * fragment. The Gateway fetches it under the outbound address policy of proxy upstreams.
 */
const clientJwksUri = z
  .string()
  .max(2048)
  .refine((value) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return false;
    }
    if (url.username !== '' || url.password !== '' || value.includes('#') || /[\s<>"]/.test(value)) return false;
    if (url.protocol === 'https:') return url.hostname !== '';
    return url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  }, 'must be an absolute https URL (http only on localhost/127.0.0.1/[::1]) without user info or fragment')
  .meta({ format: 'uri' });

/**
 * The credential as an OpenID Connect relying party (authorization code flow at `/credential/authorize`).
 * A confidential client authenticates with its password as client secret; a public one (a SPA or
 * native app) has none and must use PKCE.
 */
export const oidcClientSettingsSchema = z
  .strictObject({
    clientType: z.enum(['confidential', 'public']).default('confidential'),
    /** Exact-match redirect URIs (at least one). */
    redirectUris: z.array(redirectUri).min(1).max(20),
    /** Exact-match URIs RP-initiated logout may return to. */
    postLogoutRedirectUris: z.array(redirectUri).max(20).default([]),
    tokenEndpointAuthMethod: z.enum(CLIENT_AUTH_METHODS).default('client_secret_basic'),
    /** The client's public keys for `private_key_jwt` (RFC 7523 client assertions); that method needs these or `jwksUri` (or both), no other method takes them. */
    jwks: z
      .strictObject({ keys: z.array(publicJwk).min(1).max(10) })
      .nullable()
      .default(null),
    /** The client's own JWKS endpoint for `private_key_jwt` (keys it rotates without the Manager): fetched and cached by the Gateway; its keys need a `kid`. */
    jwksUri: clientJwksUri.nullable().default(null),
    /** PKCE S256 on every authorization request (always on for public clients). */
    requirePkce: z.boolean().default(true),
    /** Ask the user before releasing claims to this client (the consent page, remembered per user, client and scope until revoked); false: a first-party client, asked only on `prompt=consent`. */
    consentRequired: z.boolean().default(false),
    /** Authorization requests only by reference to a pushed one (RFC 9126 §5 `require_pushed_authorization_requests` per client): /authorize refuses plain parameters. */
    requirePar: z.boolean().default(false),
    /** ID token lifetime in seconds. */
    idTokenLifetimeSeconds: z.number().int().min(60).max(86_400).default(3600),
  })
  .refine((o) => (o.clientType === 'public') === (o.tokenEndpointAuthMethod === 'none'), {
    message: 'a public client authenticates with "none", a confidential one with a client secret',
    path: ['tokenEndpointAuthMethod'],
  })
  .refine((o) => o.clientType === 'confidential' || o.requirePkce, { message: 'public clients always use PKCE', path: ['requirePkce'] })
  .refine((o) => (o.tokenEndpointAuthMethod === 'private_key_jwt') === (o.jwks !== null || o.jwksUri !== null), {
    message: "private_key_jwt needs the client's public keys (jwks or jwksUri), and jwks and jwksUri are only for private_key_jwt",
    path: ['jwks'],
  });
export type OidcClientSettings = z.output<typeof oidcClientSettingsSchema>;

/** Who an exchanged assertion's token is about: an end user named by `sub`, or the client itself. */
export const JWT_BEARER_SUBJECTS = ['end_user', 'client'] as const;

export const jwtBearerSettingsSchema = z.strictObject({
  /** Key managers (by name) whose assertions this client may exchange; their `iss` picks one. */
  keyManagers: z.array(entityName).min(1).max(10),
  /** `end_user`: `sub` is the username of an end user of the client's project, who must be allowed to sign in; `client`: the token is the client's own (`sub` is only checked to be present). */
  subject: z.enum(JWT_BEARER_SUBJECTS).default('end_user'),
  /** An assertion may be valid at most this long (its `exp` after its `iat`, and after now): RFC 7523 §3 leaves the bound to the server. */
  maxLifetimeSeconds: z.number().int().min(1).max(3600).default(300),
});
export type JwtBearerSettings = z.output<typeof jwtBearerSettingsSchema>;

/** The settings' fields without the cross-field rules (what the `/auth` token-service policy extends). */
export const tokenSettingsFields = z.strictObject({
  grants: z.array(z.enum(OAUTH_GRANTS)).min(1).default(['client_credentials']),
  accessTokenLifetime: tokenLifetimeSchema.default({ amount: 1, unit: 'hours' }),
  refreshAllowed: z.boolean().default(false),
  /** Null: unlimited refreshes. */
  maxRefreshCount: z.number().int().min(0).max(100_000).nullable().default(null),
  refreshTokenLifetime: tokenLifetimeSchema.default({ amount: 1, unit: 'days' }),
  /** Issuing a new token revokes the client's previous ones. */
  deletePrevious: z.boolean().default(false),
  /** Accept GET with query parameters on the token endpoints (discouraged; off by default). */
  allowUrlParameters: z.boolean().default(false),
  /** Null: the environment signing key's own algorithm. */
  signingAlgorithm: z.enum(SIGNING_ALGORITHMS).nullable().default(null),
  scopes: z.array(scope).max(100).default([]),
  /** strict: unknown scope -> invalid_scope; lenient: grant the intersection; ignore: no scopes. */
  scopeMode: z.enum(['strict', 'lenient', 'ignore']).default('strict'),
  /** Credential fields copied into JWT claims (metadata follows each entry's includeInJwt flag). */
  jwtClaims: z.array(z.enum(JWT_CLAIM_SOURCES)).default(['username', 'roles']),
  /** Set: the credential is an OpenID Connect client (needs the `authorization_code` grant, and the reverse). */
  oidc: oidcClientSettingsSchema.nullable().default(null),
});
export const tokenSettingsSchema = tokenSettingsFields
  .extend({
    /**
     * Identity sources (names, in order) that check the password of a username the project has no
     * local end user for, at the password grant and the OpenID Provider's login page; a verified
     * directory user becomes (or is refreshed as) an end user linked to the source. Absent or empty:
     * local end users only. (Credentials' settings only: a proxy's `/auth` client has no end users.)
     */
    identitySources: z.array(entityName).max(10).optional(),
    /**
     * The JWT bearer grant (RFC 7523 §2.1, `urn:ietf:params:oauth:grant-type:jwt-bearer`): an
     * assertion signed by one of these key managers (names; their JWKS, algorithms, clock skew
     * and required claims apply) is exchanged for an access token with the client's scopes.
     * Absent: the client may not use the grant.
     */
    jwtBearer: jwtBearerSettingsSchema.optional(),
  })
  .refine((t) => new Set(t.identitySources).size === (t.identitySources ?? []).length, { message: 'an identity source is named twice', path: ['identitySources'] })
  .refine((t) => t.grants.includes('authorization_code') === (t.oidc !== null), {
    message: 'the authorization_code grant and the oidc settings go together',
    path: ['oidc'],
  })
  .refine((t) => t.oidc?.clientType !== 'public' || t.grants.every((g) => g === 'authorization_code' || g === 'refresh_token'), {
    message: 'a public client may only use the authorization_code and refresh_token grants',
    path: ['grants'],
  })
  .refine((t) => t.oidc?.clientType !== 'public' || t.jwtBearer === undefined, {
    message: 'a public client cannot use the JWT bearer grant (it has no authentication)',
    path: ['jwtBearer'],
  });
export type TokenSettings = z.infer<typeof tokenSettingsSchema>;
