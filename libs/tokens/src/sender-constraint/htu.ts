/**
 * RFC 9449 §4.3 step 9: `htu` is compared without query and fragment, after the syntax-based
 * normalization of RFC 3986 §6.2.2-6.2.3 that WHATWG URL parsing performs (lower-case scheme
 * and host, default port dropped, dot segments resolved, empty path as "/"). Null when the value
 * is not an absolute http(s) URL without user info.
 */
export function normalizeHtu(value: unknown): string | null {
  if (typeof value !== 'string' || value.length > MAX_LENGTH) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  if (url.username !== '' || url.password !== '') return null;
  return `${url.protocol}//${url.host}${url.pathname}`;
}

const MAX_LENGTH = 4096;
