import { z } from 'zod';

/**
 * The confirmation (`cnf`, RFC 7800) a sender-constrained token carries: the thumbprint of the
 * DPoP key (`jkt`, RFC 9449 §6) and/or of the client certificate (`x5t#S256`, RFC 8705 §3.1).
 * The same shape in a JWT's claims, an opaque token's record and introspection answers.
 */
export const tokenConfirmationSchema = z.strictObject({
  jkt: z.string().min(1).max(128).optional(),
  'x5t#S256': z.string().min(1).max(128).optional(),
});
export type TokenConfirmation = z.infer<typeof tokenConfirmationSchema>;

/**
 * The confirmation of a token's `cnf` claim: null when there is none (a bearer token),
 * 'unreadable' when the claim is present but not one we can enforce (never treated as unbound).
 */
export function confirmationOf(cnf: unknown): TokenConfirmation | null | 'unreadable' {
  if (cnf === undefined) return null;
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) return 'unreadable';
  const { jkt, 'x5t#S256': x5t, ...other } = cnf as Record<string, unknown>;
  if (Object.keys(other).length > 0) return 'unreadable';
  if ((jkt !== undefined && typeof jkt !== 'string') || (x5t !== undefined && typeof x5t !== 'string')) return 'unreadable';
  if (jkt === undefined && x5t === undefined) return 'unreadable';
  return cnf as TokenConfirmation;
}
