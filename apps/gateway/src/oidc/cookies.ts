/** Cookies of the OpenID Provider: HttpOnly, SameSite=Lax, Secure when the issuer is https, scoped to the prefix. */
export const SESSION_COOKIE = 'idm_sso';
export const CSRF_COOKIE = 'idm_csrf';

export function cookiesOf(header: string | undefined): Map<string, string> {
  const found = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    // The first of duplicate names wins, as browsers send the most specific path first.
    if (!found.has(name)) found.set(name, part.slice(eq + 1).trim());
  }
  return found;
}

export function setCookie(name: string, value: string, options: { path: string; secure: boolean; maxAgeSeconds?: number }): string {
  const parts = [`${name}=${value}`, `Path=${options.path}`, 'HttpOnly', 'SameSite=Lax'];
  if (options.secure) parts.push('Secure');
  if (options.maxAgeSeconds !== undefined) parts.push(`Max-Age=${options.maxAgeSeconds}`);
  return parts.join('; ');
}

export function clearCookie(name: string, options: { path: string; secure: boolean }): string {
  return setCookie(name, '', { ...options, maxAgeSeconds: 0 });
}
