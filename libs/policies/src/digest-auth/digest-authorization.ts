/**
 * A strict parser for `Authorization: Digest ...` (RFC 7616 section 3.4). Written here rather
 * than taken from a package: the policy needs every failure as a distinct reason (duplicated or
 * missing field, bad syntax, oversize) and a hard size bound, and the grammar is small.
 */
export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  /** As sent, upper-cased; "MD5" when the client sent none (RFC 7616 default). */
  algorithm: string;
  qop: string | null;
  nc: string | null;
  cnonce: string | null;
  opaque: string | null;
}

export type DigestParseFailure = 'too_large' | 'syntax' | 'duplicate_field' | 'missing_field' | 'unsupported_field';

export const MAX_DIGEST_HEADER_LENGTH = 4096;

const TOKEN = /[A-Za-z0-9!#$%&'*+.^_`|~-]/;
const REQUIRED = ['username', 'realm', 'nonce', 'uri', 'response'] as const;
const KNOWN = new Set(['username', 'realm', 'nonce', 'uri', 'response', 'algorithm', 'qop', 'nc', 'cnonce', 'opaque', 'userhash', 'username*']);

/**
 * Returns null when the header is not Digest at all, a failure reason when it is Digest but
 * unusable, or the credentials.
 */
export function parseDigestAuthorization(header: string): DigestCredentials | DigestParseFailure | null {
  const space = header.indexOf(' ');
  const scheme = space < 0 ? header : header.slice(0, space);
  if (scheme.toLowerCase() !== 'digest') return null;
  if (header.length > MAX_DIGEST_HEADER_LENGTH) return 'too_large';
  if (space < 0) return 'missing_field';
  const params = parseAuthParams(header.slice(space + 1));
  if (typeof params === 'string') return params;
  for (const name of params.keys()) if (!KNOWN.has(name)) return 'syntax';
  // userhash / username* (RFC 7616 3.4.4) are not supported: the directory is keyed by plain username.
  if (params.has('username*') || (params.get('userhash') ?? 'false').toLowerCase() !== 'false') return 'unsupported_field';
  for (const name of REQUIRED) if (!params.get(name)) return 'missing_field';
  const qop = params.get('qop') ?? null;
  const nc = params.get('nc') ?? null;
  const cnonce = params.get('cnonce') ?? null;
  // With qop both nc and cnonce are mandatory; without qop neither may appear.
  if (qop !== null && (nc === null || cnonce === null)) return 'missing_field';
  if (qop === null && (nc !== null || cnonce !== null)) return 'syntax';
  if (nc !== null && !/^[0-9a-fA-F]{8}$/.test(nc)) return 'syntax';
  return {
    username: params.get('username')!,
    realm: params.get('realm')!,
    nonce: params.get('nonce')!,
    uri: params.get('uri')!,
    response: params.get('response')!,
    algorithm: (params.get('algorithm') ?? 'MD5').toUpperCase(),
    qop,
    nc,
    cnonce,
    opaque: params.get('opaque') ?? null,
  };
}

/** `name=value` pairs (value a token or a quoted-string) separated by commas; names lower-cased. */
function parseAuthParams(input: string): Map<string, string> | DigestParseFailure {
  const params = new Map<string, string>();
  let i = 0;
  const n = input.length;
  const skipSpace = () => {
    while (i < n && (input[i] === ' ' || input[i] === '\t')) i++;
  };
  while (true) {
    skipSpace();
    // Tolerate empty list elements (RFC 9110 5.6.1: "a, , b").
    if (input[i] === ',') {
      i++;
      continue;
    }
    if (i >= n) break;
    const nameStart = i;
    while (i < n && TOKEN.test(input[i])) i++;
    const name = input.slice(nameStart, i).toLowerCase();
    if (name === '') return 'syntax';
    skipSpace();
    if (input[i] !== '=') return 'syntax';
    i++;
    skipSpace();
    let value = '';
    if (input[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const c = input[i++];
        if (c === '"') {
          closed = true;
          break;
        }
        if (c === '\\') {
          if (i >= n) return 'syntax';
          value += input[i++];
        } else {
          if (c < ' ' && c !== '\t') return 'syntax';
          value += c;
        }
      }
      if (!closed) return 'syntax';
    } else {
      const start = i;
      while (i < n && TOKEN.test(input[i])) i++;
      value = input.slice(start, i);
      if (value === '') return 'syntax';
    }
    if (params.has(name)) return 'duplicate_field';
    params.set(name, value);
    skipSpace();
    if (i < n && input[i] !== ',') return 'syntax';
  }
  return params;
}
