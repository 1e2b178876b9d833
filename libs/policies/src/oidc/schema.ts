import { z } from 'zod';
import { isReservedForPolicies } from '../reserved-upstream-headers';
import { headerName } from '../schema-types';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** https, or http on a loopback host only (a development OP): a plain-HTTP OP on a network could be impersonated. */
const issuerUrl = z
  .url()
  .max(512)
  .refine((u) => {
    const url = new URL(u);
    return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
  }, 'must be an https URL (http only on a loopback host)')
  .refine((u) => !new URL(u).search && !new URL(u).hash, 'must have no query or fragment');

/** A path under the proxy's base path, served by the policy itself (never forwarded upstream). */
const ownPath = z.string().regex(/^\/\.?[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/, 'must be a path like /.oidc/callback');

const scope = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/, 'must be an RFC 6749 scope token');
const claimHeaderName = headerName.refine((h) => !isReservedForPolicies(h), 'is a header the Gateway sets or strips itself');
const cookieName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be letters, digits, "_" or "-"');

/**
 * The `oidc` policy: the Gateway as OpenID Connect relying party (authorization code + PKCE,
 * openid-client). Browsers without a session are sent to the OP; the callback exchanges the code,
 * validates the ID token, stores the session in Redis and sets a sealed cookie with its id; API
 * clients get 401.
 */
export const oidcConfigSchema = z
  .strictObject({
    /** The OP's issuer identifier; its metadata is discovered at `<issuer>/.well-known/openid-configuration`. */
    issuer: issuerUrl,
    clientId: z.string().min(1).max(256),
    /** Project secret (shared-secret) holding the client secret (client_secret_basic); absent: a public client (PKCE only). */
    clientSecretId: z.uuid().optional(),
    /**
     * Project secret (shared-secret, at least 32 bytes) the session and login cookies and the
     * session records in Redis are encrypted with (AES-256-GCM, key derived per proxy). Every
     * Gateway receives it, so a session started on one is valid on all and across restarts;
     * rotating it ends older sessions once the old version retires.
     */
    cookieSecretId: z.uuid(),
    scopes: z.array(scope).min(1).max(50).default(['openid', 'profile', 'email']),
    /** Claim -> request header sent upstream (arrays joined with ","). */
    claimHeaders: z.record(z.string().min(1).max(64), claimHeaderName).default({}),
    /**
     * true: at login the OP's userinfo endpoint is also asked (with the fresh access token, its
     * `sub` must be the ID token's), and its claims complete the ID token's (the signed ID token
     * wins where both have a claim). For OPs that put profile claims only in userinfo.
     */
    userinfo: z.boolean().default(false),
    /** Longest claim header value sent upstream (after encoding); a longer value is not sent at all (a cut one could mean something else). */
    claimHeaderMaxLength: z.number().int().min(16).max(8192).default(1024),
    /**
     * Hybrid mode: the external OP says who the user is, our credentials say what they may do.
     * The claim's value names a credential (its username) of the proxy's project; that
     * credential then authenticates the request (its ACL, IP, time and rate-limit rules apply,
     * it is the identity upstream); a session whose claim names none is refused 403
     * `oidc_credential_unknown`, a disabled or expired one 401 as for any credential.
     */
    credentialClaim: z.string().min(1).max(64).optional(),
    /** Claim forwarded as X-Authenticated-UserId. */
    userIdClaim: z.string().min(1).max(64).default('sub'),
    /** Claim (string or array) forwarded as X-Authenticated-UserRoles; absent: none. */
    rolesClaim: z.string().min(1).max(64).optional(),
    cookieName: cookieName.default('OIDC_SESSION'),
    /** `Secure` on the cookies; switch off only for plain-HTTP development. */
    cookieSecure: z.boolean().default(true),
    /** Absolute session lifetime (the session ends then, however active); the ID token's own expiry does not shorten it (the OP's session may outlive it). */
    sessionTtlSeconds: z
      .number()
      .int()
      .min(60)
      .max(7 * 86400)
      .default(8 * 3600),
    /** A session without a request for this long ends (checked to within a minute: last-seen is written at most once a minute). */
    idleTimeoutSeconds: z.number().int().min(60).max(86400).default(1800),
    /**
     * true: the session's access token goes upstream as `Authorization: Bearer` (a client's own
     * Authorization header is then never forwarded); one that expires within `clockSkewSeconds`
     * is first refreshed with the refresh token when the OP gave one, else the session ends.
     */
    forwardAccessToken: z.boolean().default(false),
    /** How long a started login may take (the login cookie's lifetime). */
    loginTtlSeconds: z.number().int().min(30).max(3600).default(600),
    callbackPath: ownPath.default('/.oidc/callback'),
    loginPath: ownPath.default('/.oidc/login'),
    logoutPath: ownPath.default('/.oidc/logout'),
    /** Absolute URL the OP sends the browser to after logout (must be registered there); absent: the OP's own page. */
    postLogoutRedirectUri: z.url().max(1024).optional(),
    /** Origin of the redirect URI (`https://app.example.com`); absent: the Gateway's public URL, else the request's. */
    publicOrigin: z
      .url()
      .max(512)
      .refine((u) => new URL(u).origin === u.replace(/\/$/, ''), 'must be an origin (scheme, host, port)')
      .optional(),
    /** true: every request without a session gets 401, never a redirect (pure API proxies). */
    neverRedirect: z.boolean().default(false),
    clockSkewSeconds: z.number().int().min(0).max(300).default(30),
    /** Timeout of the calls to the OP (discovery, token endpoint). */
    timeoutMs: z.number().int().min(100).max(30000).default(5000),
  })
  .refine((c) => c.scopes.includes('openid'), { path: ['scopes'], message: "must include 'openid'" })
  .refine((c) => new Set([c.callbackPath, c.loginPath, c.logoutPath]).size === 3, { path: ['callbackPath'], message: 'callbackPath, loginPath and logoutPath must differ' });

export type OidcConfig = z.output<typeof oidcConfigSchema>;
