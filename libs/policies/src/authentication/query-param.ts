/**
 * Reads and removes one parameter of a raw query string without re-encoding the others, so the
 * upstream receives every other parameter byte for byte as the client sent it.
 */
export function findQueryParam(query: string, name: string): string | undefined {
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (decodeComponent(eq < 0 ? pair : pair.slice(0, eq)) === name) {
      const value = eq < 0 ? '' : decodeComponent(pair.slice(eq + 1));
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

export function withoutQueryParam(query: string, name: string): string {
  return query
    .split('&')
    .filter((pair) => {
      const eq = pair.indexOf('=');
      return decodeComponent(eq < 0 ? pair : pair.slice(0, eq)) !== name;
    })
    .join('&');
}

function decodeComponent(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    // Malformed escapes cannot name our parameter; keep them as they are.
    return raw;
  }
}
