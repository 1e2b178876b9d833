const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Canonical padded base64 (what RFC 7617 clients send) decoded as UTF-8; null when it is not that. */
export function decodeBase64Text(encoded: string): string | null {
  if (encoded.length % 4 !== 0 || !BASE64.test(encoded)) return null;
  return Buffer.from(encoded, 'base64').toString('utf8');
}
