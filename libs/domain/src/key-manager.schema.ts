import { z } from 'zod';
import { description, entityId, entityName, timestamp } from './names.schema';
import { SIGNING_ALGORITHMS } from './signing-key.schema';

/**
 * A key manager is an issuer the Gateway trusts (WSO2's term): our own token service
 * (`builtin`) or an external OAuth/OIDC server whose JWTs are verified against its JWKS and
 * whose opaque tokens are introspected (RFC 7662). Proxies name the key managers they accept.
 */

/** HMAC is accepted only where a shared secret is configured; `none` never. */
export const KEY_MANAGER_HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export const KEY_MANAGER_ALGORITHMS = [...SIGNING_ALGORITHMS, ...KEY_MANAGER_HMAC_ALGORITHMS] as const;
export type KeyManagerAlgorithm = (typeof KEY_MANAGER_ALGORITHMS)[number];

export const KEY_MANAGER_TOKEN_TYPES = ['jwt', 'opaque', 'both'] as const;

/** http(s) only, no credentials or fragment in the URL (they would leak into logs and audits). */
const endpointUrl = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .refine((u) => {
    const url = new URL(u);
    return url.username === '' && url.password === '' && url.hash === '';
  }, 'must be an http(s) URL without user info or fragment');

/** Gateway-side header names the Gateway reserves are refused again where policies compile. */
const headerName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be a lower-case header name');
const claimName = z.string().min(1).max(128);

/** Which token claims carry the identity; any claim may also become a request header. */
export const keyManagerClaimMappingsSchema = z.strictObject({
  /** Forwarded as X-Authenticated-UserId. */
  userId: claimName.default('sub'),
  /** Forwarded as X-Authenticated-User. */
  username: claimName.default('sub'),
  /** Roles (array or space/comma string): checked against the proxy's required roles, forwarded as X-Authenticated-UserRoles. */
  roles: claimName.default('roles'),
  /** Scopes (space-separated string or array, e.g. Entra ID's `scp`): checked against the proxy's required scopes. */
  scopes: claimName.default('scope'),
  /** Tenant claim, forwarded as X-Authenticated-Tenant when present. */
  tenant: claimName.optional(),
  /** Any claim -> request header sent upstream (arrays joined with ","). */
  headers: z.record(claimName, headerName).default({}),
});

/** WSO2's "key manager permissions": which roles may use the key manager for their proxies. */
export const keyManagerRoleListSchema = z.strictObject({
  type: z.enum(['ALLOW', 'DENY']),
  roles: z.array(z.string().min(1).max(128)).min(1).max(100),
});

/** TLS towards the key manager's endpoints. */
export const keyManagerTlsSchema = z.strictObject({
  /** PEM CA bundle the endpoints' certificates must chain to (instead of the system store). */
  caPem: z.string().max(100_000).optional(),
  /** PEM client certificate and key for mutual TLS; the key is sealed at rest. */
  clientCertificatePem: z.string().max(50_000).optional(),
  clientKeyPem: z.string().max(50_000).optional(),
});

/**
 * How the Gateways call the key manager and cache what it answers. Defaults suit a public IdP;
 * each is bounded so a setting can neither hammer the issuer nor trust keys for days.
 */
export const keyManagerTimingSchema = z
  .strictObject({
    /** Connect, headers and body timeout of every call (discovery, JWKS, introspection). */
    timeoutMs: z.number().int().min(100).max(30_000).default(5_000),
    /** Larger answers are refused. */
    maxResponseBytes: z
      .number()
      .int()
      .min(1024)
      .max(4 * 1024 * 1024)
      .default(256 * 1024),
    /** JWKS Cache-Control max-age is honoured within [min, max]; without one, `jwksDefaultTtlSeconds`. */
    jwksMinTtlSeconds: z.number().int().min(10).max(86_400).default(60),
    jwksMaxTtlSeconds: z
      .number()
      .int()
      .min(10)
      .max(7 * 86_400)
      .default(86_400),
    jwksDefaultTtlSeconds: z
      .number()
      .int()
      .min(10)
      .max(7 * 86_400)
      .default(600),
    /** The background refresh starts this share of the TTL before expiry. */
    refreshAheadPercent: z.number().int().min(0).max(90).default(20),
    /** At most one JWKS fetch per this interval for tokens naming an unknown kid. */
    unknownKidIntervalSeconds: z.number().int().min(1).max(3_600).default(30),
    /** After a failed fetch (discovery or JWKS), the next try waits this long; cached keys keep serving. */
    retryAfterErrorSeconds: z.number().int().min(1).max(600).default(5),
    /** An active introspection answer is reused until the token's exp, at most this long. */
    introspectionMaxTtlSeconds: z.number().int().min(1).max(3_600).default(300),
    /** An inactive answer (or an unknown token) is remembered this long. */
    introspectionNegativeTtlSeconds: z.number().int().min(0).max(300).default(10),
  })
  .superRefine((t, ctx) => {
    if (t.jwksMinTtlSeconds > t.jwksMaxTtlSeconds) ctx.addIssue({ code: 'custom', path: ['jwksMinTtlSeconds'], message: 'must not exceed jwksMaxTtlSeconds' });
    if (t.jwksDefaultTtlSeconds < t.jwksMinTtlSeconds || t.jwksDefaultTtlSeconds > t.jwksMaxTtlSeconds)
      ctx.addIssue({ code: 'custom', path: ['jwksDefaultTtlSeconds'], message: 'must lie within [jwksMinTtlSeconds, jwksMaxTtlSeconds]' });
  });
export type KeyManagerTiming = z.output<typeof keyManagerTimingSchema>;
export const DEFAULT_KEY_MANAGER_TIMING: KeyManagerTiming = keyManagerTimingSchema.parse({});

export const keyManagerFields = {
  name: entityName,
  description: description.optional(),
  type: z.enum(['builtin', 'external']).default('external'),
  /** null: System scope (every project may use it); else the one project that may. */
  projectId: entityId.nullable().default(null),
  /** The exact `iss` of its tokens; how the Gateway picks the key manager. Required for external ones. */
  issuer: z.url().max(2048).optional(),
  /** RFC 8414 / OpenID discovery document; fills jwks_uri and introspection_endpoint the Gateway does not have explicitly. */
  discoveryUrl: endpointUrl.optional(),
  jwksUri: endpointUrl.optional(),
  introspectionEndpoint: endpointUrl.optional(),
  /** Client credentials for the introspection endpoint (client_secret_basic). */
  clientId: z.string().min(1).max(256).optional(),
  clientSecret: z.string().min(1).max(1024).optional(),
  /**
   * Instead of clientSecret: a `shared-secret` of the key manager's own project secret manager
   * (its current version's bytes, UTF-8, are the client secret), rotated in one place. Project key
   * managers only; `clientSecretName` in APIops bundles.
   */
  clientSecretId: entityId.optional(),
  /** HMAC key for HS* tokens; without it (or sharedSecretId) HS* is refused whatever the algorithm list says. */
  sharedSecret: z.string().min(32).max(1024).optional(),
  /**
   * Instead of sharedSecret: a `shared-secret` of the key manager's own project secret manager whose
   * bytes are the HMAC key. Every version still usable verifies, so a rotation with overlap keeps the
   * tokens signed with the previous one valid until it retires. Project key managers only;
   * `sharedSecretName` in APIops bundles.
   */
  sharedSecretId: entityId.optional(),
  algorithms: z.array(z.enum(KEY_MANAGER_ALGORITHMS)).min(1).max(13).default(['RS256']),
  /** Accepted `aud` values (any one); empty: not checked. */
  audiences: z.array(z.string().min(1).max(512)).max(20).default([]),
  clockSkewSeconds: z.number().int().min(0).max(300).default(30),
  /** Claims every token must carry. */
  requiredClaims: z.array(claimName).max(20).default([]),
  claimMappings: keyManagerClaimMappingsSchema.default({ userId: 'sub', username: 'sub', roles: 'roles', scopes: 'scope', headers: {} }),
  tokenTypes: z.enum(KEY_MANAGER_TOKEN_TYPES).default('jwt'),
  roleList: keyManagerRoleListSchema.nullable().default(null),
  tls: keyManagerTlsSchema.default({}),
  timing: keyManagerTimingSchema.default(DEFAULT_KEY_MANAGER_TIMING),
  enabled: z.boolean().default(true),
};

type KeyManagerShape = {
  type?: string;
  issuer?: string;
  discoveryUrl?: string;
  jwksUri?: string;
  introspectionEndpoint?: string;
  clientId?: string;
  clientSecret?: string;
  clientSecretId?: string;
  sharedSecret?: string;
  sharedSecretId?: string;
  algorithms?: readonly string[];
  tokenTypes?: string;
  tls?: { clientCertificatePem?: string; clientKeyPem?: string };
};

/**
 * RFC 7518 §3.2: an HS* key at least as long as its hash output. The Gateway holds every key to it
 * per algorithm; the Manager refuses a key too short for the longest HS* algorithm listed.
 */
export function hmacMinKeyBytes(algorithms: readonly string[]): number {
  return Math.max(0, ...algorithms.map((a) => ({ HS256: 32, HS384: 48, HS512: 64 })[a] ?? 0));
}

/** The cross-field rules, one list of (path, message) so create and a merged update share them. */
export function keyManagerProblems(k: KeyManagerShape): { path: string[]; message: string }[] {
  const problems: { path: string[]; message: string }[] = [];
  const external = (k.type ?? 'external') === 'external';
  const hmac = (k.algorithms ?? []).filter((a) => a.startsWith('HS'));
  if (hmac.length > 0 && !k.sharedSecret && !k.sharedSecretId) problems.push({ path: ['algorithms'], message: `${hmac.join(', ')} needs a sharedSecret (or sharedSecretId)` });
  if (k.sharedSecret && k.sharedSecretId) problems.push({ path: ['sharedSecretId'], message: 'give sharedSecret or sharedSecretId, not both' });
  const minBytes = hmacMinKeyBytes(hmac);
  if (k.sharedSecret && new TextEncoder().encode(k.sharedSecret).length < minBytes)
    problems.push({ path: ['sharedSecret'], message: `${hmac.join(', ')} needs a key of at least ${minBytes} bytes (RFC 7518 §3.2)` });
  if (!external) {
    for (const field of ['issuer', 'discoveryUrl', 'jwksUri', 'introspectionEndpoint', 'clientId', 'clientSecret', 'clientSecretId', 'sharedSecret', 'sharedSecretId'] as const)
      if (k[field] !== undefined) problems.push({ path: [field], message: 'a builtin key manager is our own token service and takes no endpoints or secrets' });
    return problems;
  }
  if (!k.issuer) problems.push({ path: ['issuer'], message: 'an external key manager needs the exact issuer of its tokens' });
  const tokenTypes = k.tokenTypes ?? 'jwt';
  const asymmetric = (k.algorithms ?? ['RS256']).some((a) => !a.startsWith('HS'));
  if (tokenTypes !== 'opaque' && asymmetric && !k.jwksUri && !k.discoveryUrl) problems.push({ path: ['jwksUri'], message: 'JWT validation needs jwksUri or discoveryUrl' });
  if (tokenTypes !== 'jwt') {
    if (!k.introspectionEndpoint && !k.discoveryUrl) problems.push({ path: ['introspectionEndpoint'], message: 'opaque tokens need introspectionEndpoint or discoveryUrl' });
    if (!k.clientId || !(k.clientSecret || k.clientSecretId)) problems.push({ path: ['clientId'], message: 'introspection needs clientId and clientSecret (or clientSecretId)' });
  }
  if (k.clientSecret && k.clientSecretId) problems.push({ path: ['clientSecretId'], message: 'give clientSecret or clientSecretId, not both' });
  if (Boolean(k.tls?.clientCertificatePem) !== Boolean(k.tls?.clientKeyPem))
    problems.push({ path: ['tls'], message: 'a client certificate needs its key, and a key its certificate' });
  return problems;
}

function refined<T extends z.ZodType<KeyManagerShape>>(schema: T) {
  return schema.superRefine((k, ctx) => {
    for (const p of keyManagerProblems(k)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  });
}

export const createKeyManagerSchema = refined(z.strictObject(keyManagerFields));
export type CreateKeyManager = z.infer<typeof createKeyManagerSchema>;

/**
 * A project's own key manager in an APIops bundle: its settings by value, its secrets
 * (clientSecret, sharedSecret, tls.clientKeyPem) write-only. The cross-field rules are checked by
 * the APIops service, which knows which secrets are already stored.
 */
export const bundleKeyManagerSchema = z
  .strictObject(keyManagerFields)
  .omit({ projectId: true, clientSecretId: true, sharedSecretId: true })
  .extend({
    /** The project secrets by name (ids differ between installations). */
    clientSecretName: z.string().min(1).max(200).optional(),
    sharedSecretName: z.string().min(1).max(200).optional(),
  });
export type BundleKeyManager = z.infer<typeof bundleKeyManagerSchema>;

/** Every field but type and scope may change; secrets set to null are removed. The merged result is checked as a create would be. */
export const updateKeyManagerSchema = z.strictObject({
  name: keyManagerFields.name.optional(),
  description: description.nullable().optional(),
  issuer: keyManagerFields.issuer,
  discoveryUrl: endpointUrl.nullable().optional(),
  jwksUri: endpointUrl.nullable().optional(),
  introspectionEndpoint: endpointUrl.nullable().optional(),
  clientId: z.string().min(1).max(256).nullable().optional(),
  clientSecret: z.string().min(1).max(1024).nullable().optional(),
  clientSecretId: entityId.nullable().optional(),
  sharedSecret: z.string().min(32).max(1024).nullable().optional(),
  sharedSecretId: entityId.nullable().optional(),
  algorithms: z.array(z.enum(KEY_MANAGER_ALGORITHMS)).min(1).max(13).optional(),
  audiences: z.array(z.string().min(1).max(512)).max(20).optional(),
  clockSkewSeconds: z.number().int().min(0).max(300).optional(),
  requiredClaims: z.array(claimName).max(20).optional(),
  claimMappings: keyManagerClaimMappingsSchema.optional(),
  tokenTypes: z.enum(KEY_MANAGER_TOKEN_TYPES).optional(),
  roleList: keyManagerRoleListSchema.nullable().optional(),
  tls: keyManagerTlsSchema.optional(),
  timing: keyManagerTimingSchema.optional(),
  enabled: z.boolean().optional(),
});
export type UpdateKeyManager = z.infer<typeof updateKeyManagerSchema>;

/** What the API returns: secrets never, only whether they are set. */
export const keyManagerSchema = z.object({
  id: entityId,
  name: z.string(),
  description: z.string().nullable(),
  type: z.enum(['builtin', 'external']),
  projectId: entityId.nullable(),
  issuer: z.string().nullable(),
  discoveryUrl: z.string().nullable(),
  jwksUri: z.string().nullable(),
  introspectionEndpoint: z.string().nullable(),
  clientId: z.string().nullable(),
  hasClientSecret: z.boolean(),
  /** The project secret the introspection client secret comes from; null: sealed on the key manager (or none). */
  clientSecretId: entityId.nullable(),
  hasSharedSecret: z.boolean(),
  /** The project secret (shared-secret) HS* tokens are verified with; null: sealed on the key manager (or none). */
  sharedSecretId: entityId.nullable(),
  algorithms: z.array(z.enum(KEY_MANAGER_ALGORITHMS)),
  audiences: z.array(z.string()),
  clockSkewSeconds: z.number().int(),
  requiredClaims: z.array(z.string()),
  claimMappings: keyManagerClaimMappingsSchema,
  tokenTypes: z.enum(KEY_MANAGER_TOKEN_TYPES),
  roleList: keyManagerRoleListSchema.nullable(),
  tls: z.object({ caPem: z.string().nullable(), clientCertificatePem: z.string().nullable(), hasClientKey: z.boolean() }),
  timing: keyManagerTimingSchema,
  enabled: z.boolean(),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type KeyManager = z.infer<typeof keyManagerSchema>;
