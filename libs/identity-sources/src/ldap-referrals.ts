/**
 * Search result references (RFC 4511 4.5.3): `ldap://host:port/<base DN>??sub` naming another
 * server that holds part of the tree. Only what the source's allow-list names is ever connected
 * to; anything else (another scheme, a host not listed) is not followed.
 */
export interface LdapReferral {
  /** The server, scheme host and port only (what ldapts connects to). */
  url: string;
  host: string;
  port: number;
  /** Where to search there: the reference's DN, or null to keep the source's base DN. */
  baseDn: string | null;
}

/** The reference as a server to ask, or null when it is no LDAP URL. */
export function parseReferral(uri: string): LdapReferral | null {
  if (!/^ldaps?:\/\//i.test(uri) || !URL.canParse(uri)) return null;
  const url = new URL(uri);
  if (url.username !== '' || url.password !== '' || url.hostname === '') return null;
  const scheme = url.protocol.toLowerCase();
  const port = Number(url.port) || (scheme === 'ldaps:' ? 636 : 389);
  let baseDn: string | null;
  try {
    baseDn = decodeURIComponent(url.pathname.replace(/^\//, '')) || null;
  } catch {
    return null;
  }
  return { url: `${scheme}//${url.hostname.toLowerCase()}:${port}`, host: url.hostname.replace(/^\[|\]$/g, '').toLowerCase(), port, baseDn };
}

/** Whether an allow-list entry (`host` for any port, or `host:port`) names the referral's server. */
export function referralAllowed(referral: LdapReferral, allowedHosts: readonly string[]): boolean {
  return allowedHosts.some((entry) => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry);
    if (!m) return false;
    const host = m[1]!.replace(/^\[|\]$/g, '').toLowerCase();
    return host === referral.host && (m[2] === undefined || Number(m[2]) === referral.port);
  });
}
