import type { FastifyRequest } from 'fastify';

/** Binds a pending sign-in to the browser that started it; sent back on the IdP's top-level redirect, hence SameSite=Lax. */
export const PENDING_COOKIE = 'idm_sso_pending';
/** Carries the callback's result to the console's same-origin POST only: SameSite=Strict. */
export const HANDOFF_COOKIE = 'idm_sso_handoff';
/** Both cookies are sent to the SSO routes alone, never to the rest of the API. */
export const SSO_PATH = '/api/v1/auth/sso';

/** A cookie of the request by name (the first one: the browser sends the most specific path first). */
export function cookieOf(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** HttpOnly (no script reads it), Secure whenever the Manager is reached over https, scoped to the SSO routes. */
export function setCookie(request: FastifyRequest, name: string, value: string, sameSite: 'Lax' | 'Strict', maxAgeSeconds: number): string {
  const secure = request.protocol === 'https' ? '; Secure' : '';
  return `${name}=${value}; Path=${SSO_PATH}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=${sameSite}${secure}`;
}

export function clearCookie(request: FastifyRequest, name: string, sameSite: 'Lax' | 'Strict'): string {
  return setCookie(request, name, '', sameSite, 0);
}
