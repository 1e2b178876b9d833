import { SIGNING_ALGORITHMS } from '@idm/domain';
import { z } from 'zod';

/**
 * How jwt-auth and oauth2-auth check the proof of a DPoP-bound token (RFC 9449). Whether a token
 * must be presented with a proof or a client certificate is the token's own `cnf`, never this
 * configuration: a bound token is always enforced.
 */
export const dpopSettingsSchema = z.strictObject({
  /** Proof signature algorithms accepted (asymmetric only; `none` and HS* can never be listed). */
  algorithms: z
    .array(z.enum(SIGNING_ALGORITHMS))
    .min(1)
    .max(SIGNING_ALGORITHMS.length)
    .default([...SIGNING_ALGORITHMS]),
  /** How old a proof's `iat` may be. */
  maxAgeSeconds: z.number().int().min(1).max(600).default(60),
  /** Tolerance for the client's clock, both ways. */
  clockSkewSeconds: z.number().int().min(0).max(300).default(10),
  /** Require a server nonce in every proof (RFC 9449 §9): a proof without the current one gets 401 `use_dpop_nonce` and a `DPoP-Nonce`. */
  requireNonce: z.boolean().default(false),
});

export type DpopSettings = z.output<typeof dpopSettingsSchema>;
export const DEFAULT_DPOP_SETTINGS: DpopSettings = dpopSettingsSchema.parse({});
