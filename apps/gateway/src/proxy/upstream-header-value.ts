/**
 * A value the Gateway derives from a token or credential (identity, roles, claim headers) as it
 * goes upstream. Claims are JSON strings: they may hold CR/LF, other control characters or
 * characters outside Latin-1, none of which a header value can carry (undici refuses such a
 * request, which used to surface as a 502, and CR/LF would split the header).
 *
 * The encoding is deterministic and reversible: a value of printable ASCII (spaces and tabs
 * inside it allowed) goes as it is; anything else — and a value that already looks encoded,
 * starting with "=?" — goes whole as an RFC 2047 encoded-word of its UTF-8 bytes,
 * `=?UTF-8?B?<base64>?=`, so an upstream decodes exactly the claim the token carried.
 */
export function upstreamHeaderValue(value: string): string {
  return needsEncoding(value) ? `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=` : value;
}

/** One pass over the characters; no allocation for the values that pass as they are (nearly all). */
function needsEncoding(value: string): boolean {
  const last = value.length - 1;
  if (last < 0) return false;
  // Leading or trailing whitespace would be trimmed by the upstream's parser (RFC 9110 §5.5 OWS).
  if (isWhitespace(value.charCodeAt(0)) || isWhitespace(value.charCodeAt(last))) return true;
  if (value.charCodeAt(0) === 0x3d /* = */ && value.charCodeAt(1) === 0x3f /* ? */) return true;
  for (let i = 0; i <= last; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c > 0x7e) return true;
  }
  return false;
}

const isWhitespace = (c: number) => c === 0x20 || c === 0x09;
