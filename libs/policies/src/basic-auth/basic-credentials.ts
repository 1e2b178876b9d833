import { decodeBase64Text } from '../authentication/base64-text';

export interface BasicCredentials {
  username: string;
  password: string;
}

/**
 * Parses an RFC 7617 Authorization header. Returns null when the header is not Basic at all (the
 * client presented no Basic credentials) and 'malformed' when it is Basic but unusable.
 */
export function parseBasicAuthorization(header: string): BasicCredentials | 'malformed' | null {
  const space = header.indexOf(' ');
  const scheme = space < 0 ? header : header.slice(0, space);
  if (scheme.toLowerCase() !== 'basic') return null;
  const decoded = space < 0 ? null : decodeBase64Text(header.slice(space + 1).trim());
  if (decoded === null) return 'malformed';
  const colon = decoded.indexOf(':');
  if (colon <= 0) return 'malformed';
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
