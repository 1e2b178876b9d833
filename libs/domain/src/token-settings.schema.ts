import { z } from 'zod';
import { SIGNING_ALGORITHMS } from './signing-key.schema';
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

export const OAUTH_GRANTS = ['client_credentials', 'password', 'refresh_token'] as const;
export const JWT_CLAIM_SOURCES = ['username', 'email', 'fullName', 'roles', 'credentialId'] as const;
const scope = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/, 'must be an RFC 6749 scope token');

export const tokenSettingsSchema = z.strictObject({
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
});
export type TokenSettings = z.infer<typeof tokenSettingsSchema>;
