import { z } from 'zod';

export const mtlsAuthConfigSchema = z.strictObject({
  /**
   * Which CN of the client certificate names the credential (its username in the proxy's
   * project): the subject's, the issuer's (one credential per client CA), or the subject's and,
   * when that maps to nothing, the issuer's.
   */
  match: z.enum(['subject-cn', 'issuer-cn', 'either']).default('subject-cn'),
  /**
   * The certificate must chain (directly or through intermediates the client sent) to a CA in
   * the credential's truststore, every certificate on the way within its validity period.
   * false: any certificate whose CN maps is accepted (only behind a TLS terminator that already
   * validated it; the client proves possession of the key either way).
   */
  validateChain: z.boolean().default(true),
  /**
   * A trust store of the project secret manager (kind `trust-store` or `certificate`): with it,
   * the certificate must chain to one of its CAs (every version still within its rotation overlap)
   * instead of the credential's own truststore. One CA set for every credential of the proxy, kept
   * and rotated in one place; `trustStoreSecretName` in APIops bundles.
   */
  trustStoreSecretId: z.uuid().optional(),
});

export type MtlsAuthConfig = z.output<typeof mtlsAuthConfigSchema>;
