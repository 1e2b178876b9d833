import { clearSession, currentSession } from './session';

/** A problem+json answer (RFC 9457) from the Manager, with its stable reason code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string | undefined,
    readonly errors: { path: string; message: string }[] = [],
  ) {
    super(detail ?? title);
  }
}

/** Called when the Manager says the session is gone (expired, logged out elsewhere). */
let onSessionLost: () => void = () => undefined;
export function whenSessionLost(handler: () => void): void {
  onSessionLost = handler;
}

/** The console's only way to the Manager: /api/v1 with the operator's session, labelled so the audit says `ui`. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const session = currentSession();
  const headers: Record<string, string> = { accept: 'application/json', 'x-idm-client': 'console' };
  if (session) headers.authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  const json: unknown = text ? JSON.parse(text) : undefined;
  if (!response.ok) {
    const problem = (json ?? {}) as { code?: string; title?: string; detail?: string; errors?: { path: string; message: string }[] };
    if (response.status === 401 && session) {
      clearSession();
      onSessionLost();
    }
    throw new ApiError(response.status, problem.code ?? 'error', problem.title ?? response.statusText, problem.detail, problem.errors);
  }
  return json as T;
}

/** What an error says to a person: the problem's detail, else its title. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.detail ?? error.title;
  return error instanceof Error ? error.message : String(error);
}
