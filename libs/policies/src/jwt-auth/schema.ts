import { z } from 'zod';
import { isReservedForPolicies } from '../reserved-upstream-headers';
import { headerName, httpMethod } from '../schema-types';
import { dpopSettingsSchema, DEFAULT_DPOP_SETTINGS } from '../sender-constraint/schema';
import { tokenServicePolicySchema } from '../token-service-policy/schema';

const scope = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/, 'must be an RFC 6749 scope token');
// Identity, forwarding, hop-by-hop and framing headers are the Gateway's (reserved-upstream-headers.ts).
const claimHeaderName = headerName.refine((h) => !isReservedForPolicies(h), 'is a header the Gateway sets or strips itself');

/** What a bearer token must carry to pass; every listed scope and role is required. */
export const bearerRequirementSchema = z.strictObject({
  scopes: z.array(scope).max(50).default([]),
  roles: z.array(z.string().min(1).max(128)).max(50).default([]),
});

/** Shared by jwt-auth and oauth2-auth: which scopes/roles a request needs, overall and per method. */
export const bearerAccessSchema = {
  required: bearerRequirementSchema.default({ scopes: [], roles: [] }),
  /** Extra requirements per HTTP method (e.g. writes need `orders:write`), added to `required`. */
  methods: z.record(httpMethod, bearerRequirementSchema).default({}),
  /** Remove the Authorization header before the request goes upstream. */
  stripAuthorization: z.boolean().default(true),
  /** This proxy's own client of the token service (`/auth` prefix); absent: none. */
  tokenService: tokenServicePolicySchema.optional(),
  /** How proofs of DPoP-bound tokens are checked (sender-constraint/schema.ts); bound tokens are always enforced. */
  dpop: dpopSettingsSchema.default(DEFAULT_DPOP_SETTINGS),
  /**
   * Ids of the key managers (trusted issuers) whose tokens this proxy accepts besides its own
   * token service's; a token of any other key manager is refused (`issuer_not_allowed`). Listing
   * a `builtin` key manager keeps our own tokens; listing only external ones refuses them.
   */
  keyManagers: z.array(z.uuid()).max(20).default([]),
};

export const jwtAuthConfigSchema = z.strictObject({
  ...bearerAccessSchema,
  /**
   * Accepted `aud` values. Empty: the proxy's own id and base path, which is what the token
   * service puts into tokens issued for this proxy's project.
   */
  audiences: z.array(z.string().min(1).max(512)).max(20).default([]),
  /**
   * Accepted issuers (exact). Empty: this environment's own token service, exactly: its public
   * URL (GATEWAY_PUBLIC_URL) + `/credential` or `/auth`; without one, the issuer of the host the
   * request came to (what the Gateway puts into tokens minted there).
   */
  issuers: z.array(z.url()).max(20).default([]),
  /** Tolerance for exp/nbf/iat between clocks. */
  clockSkewSeconds: z.number().int().min(0).max(300).default(30),
  /** Claim -> request header sent upstream (arrays joined with ","). */
  claimHeaders: z.record(z.string().min(1).max(64), claimHeaderName).default({}),
});

export type BearerRequirement = z.output<typeof bearerRequirementSchema>;
export type JwtAuthConfig = z.output<typeof jwtAuthConfigSchema>;
