import type { GatewayErrorCode } from '../http/gateway-errors';

/**
 * Request targets an upstream could read differently from the Gateway, refused before routing
 * them on. A path that normalizes to a parent segment climbs out of the upstream's base path once
 * the upstream resolves it, reaching what the proxy never exposed; so does one the upstream
 * decodes further, cuts at a NUL byte or at a path parameter.
 *
 * A segment counts as a dot segment when it is "." or ".." after what any common upstream does
 * to it: percent-decoding, repeated (double-encoded "%252e" decodes twice in some stacks);
 * overlong UTF-8 and IIS's "%u" forms of "." "/" "\"; "\" read as "/"; everything from the first
 * ";" dropped (Tomcat, Jetty and Spring read "..;x" as ".."); trailing spaces dropped (Windows).
 */
export interface TargetRejection {
  readonly code: GatewayErrorCode;
  readonly message: string;
}

const DOT_SEGMENT: TargetRejection = Object.freeze({ code: 'invalid_path', message: 'The path must not contain dot segments ("." or "..", also encoded or with ";" parameters)' });
const NUL_IN_PATH: TargetRejection = Object.freeze({ code: 'invalid_path', message: 'The path must not contain NUL bytes' });
const OVER_ENCODED: TargetRejection = Object.freeze({ code: 'invalid_path', message: 'The path is percent-encoded too many times over' });
const NUL_IN_QUERY: TargetRejection = Object.freeze({ code: 'invalid_query', message: 'The query must not contain NUL bytes' });

/** Encoding layers undone before giving up; real clients encode once, proxies in between at most twice. */
const MAX_DECODINGS = 3;
const PERCENT_BYTE = /%([0-9a-fA-F]{2})/g;
const PERCENT_U = /%u([0-9a-fA-F]{4})/g;
/** Overlong UTF-8 for "." "/" "\" and the fullwidth full stop, byte by byte as decoded below. */
const LOOKALIKES = /\xc0\xae|\xe0\x80\xae|\xef\xbc\x8e|\xc0\xaf|\xe0\x80\xaf|\xc1\x9c|\xe0\x81\x9c/g;
const LOOKALIKE_AS: Readonly<Record<string, string>> = {
  '\xc0\xae': '.',
  '\xe0\x80\xae': '.',
  '\xef\xbc\x8e': '.',
  '\xc0\xaf': '/',
  '\xe0\x80\xaf': '/',
  '\xc1\x9c': '\\',
  '\xe0\x81\x9c': '\\',
};
const SEPARATORS = /[/\\]/;

/**
 * Why the target must be refused, or null. `path` is what follows the base path, `query` the raw
 * query string. Paths without "." and "%", nearly all, cost two indexOf calls.
 */
export function requestTargetRejection(path: string, query: string): TargetRejection | null {
  if (query.length !== 0 && query.indexOf('%00') !== -1) return NUL_IN_QUERY;
  const encoded = path.indexOf('%') !== -1;
  if (!encoded && path.indexOf('.') === -1) return null;
  const decoded = encoded ? decodeFully(path) : path;
  if (decoded === null) return OVER_ENCODED;
  if (decoded.indexOf('\0') !== -1) return NUL_IN_PATH;
  for (const segment of decoded.split(SEPARATORS)) if (isDotSegment(segment)) return DOT_SEGMENT;
  return null;
}

/** Percent-decoded until nothing changes, byte by byte (one char per byte); null past MAX_DECODINGS. */
function decodeFully(path: string): string | null {
  let current = path;
  for (let round = 0; current.indexOf('%') !== -1; round++) {
    const next = current
      .replace(PERCENT_U, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
      .replace(PERCENT_BYTE, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    if (next === current) break;
    if (round === MAX_DECODINGS) return null;
    current = next;
  }
  return current.replace(LOOKALIKES, (bytes) => LOOKALIKE_AS[bytes]);
}

function isDotSegment(segment: string): boolean {
  if (segment.length === 0 || segment.charCodeAt(0) !== 0x2e /* . */) return false;
  const parameters = segment.indexOf(';');
  const name = (parameters === -1 ? segment : segment.slice(0, parameters)).trimEnd();
  return name === '.' || name === '..';
}
