export interface BasicCredentials {
  username: string;
  password: string;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Parses an RFC 7617 Authorization header. Returns null when the header is not Basic at all (the
 * client presented no Basic credentials) and 'malformed' when it is Basic but unusable.
 */
export function parseBasicAuthorization(header: string): BasicCredentials | 'malformed' | null {
  const space = header.indexOf(' ');
  const scheme = space < 0 ? header : header.slice(0, space);
  if (scheme.toLowerCase() !== 'basic') return null;
  const encoded = header.slice(space + 1).trim();
  if (space < 0 || encoded.length % 4 !== 0 || !BASE64.test(encoded)) return 'malformed';
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return 'malformed';
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
