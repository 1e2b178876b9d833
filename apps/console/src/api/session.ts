/**
 * The operator's session token lives in sessionStorage: it ends with the tab, is never sent by
 * the browser on its own (no cookie, so no CSRF), and only this origin's script can read it —
 * the Content-Security-Policy the Manager sends allows no other script.
 */
const KEY = 'idm.session';

export interface Session {
  token: string;
  username: string;
  expiresAt: string;
}

export function currentSession(): Session | null {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    const session = JSON.parse(raw) as Session;
    return new Date(session.expiresAt).getTime() > Date.now() ? session : null;
  } catch {
    return null;
  }
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}
