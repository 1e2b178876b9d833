import { createHash } from 'node:crypto';

/** RFC 8705 §3.1 `x5t#S256`: base64url SHA-256 of the certificate's DER bytes. */
export function certificateThumbprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('base64url');
}
