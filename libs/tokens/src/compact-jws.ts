/**
 * Defensive split of a compact JWS (RFC 7515 §7.1) before any cryptography: bounded length,
 * exactly three base64url segments, a JSON object header. The payload is decoded only
 * after the signature verified (see `decodeJsonObject`), so unauthenticated JSON is parsed once, small.
 */
export interface CompactJws {
  header: Record<string, unknown>;
  /** `header.payload` as sent: the bytes the signature covers. */
  signingInput: string;
  payloadSegment: string;
  signature: Buffer;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;
// Empty is allowed so an unsecured JWS (`alg: none`) reaches the algorithm check and is named as such.
const SIGNATURE_SEGMENT = /^[A-Za-z0-9_-]*$/;

export function splitCompactJws(token: unknown, maxLength: number): CompactJws | null {
  if (typeof token !== 'string' || token.length > maxLength) return null;
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first < 0 || second < 0 || token.indexOf('.', second + 1) >= 0) return null;
  const headerSegment = token.slice(0, first);
  const payloadSegment = token.slice(first + 1, second);
  const signatureSegment = token.slice(second + 1);
  if (!SEGMENT.test(headerSegment) || !SEGMENT.test(payloadSegment) || !SIGNATURE_SEGMENT.test(signatureSegment)) return null;
  const header = decodeJsonObject(headerSegment);
  if (!header) return null;
  return { header, signingInput: token.slice(0, second), payloadSegment, signature: Buffer.from(signatureSegment, 'base64url') };
}

export function decodeJsonObject(segment: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
