import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ActiveConfiguration } from '../serving/active-configuration';
import type { ServingRevision } from '../serving/serving-revision';
import { formParameters } from '../token-service/token-parameters';
import { cookiesOf, CSRF_COOKIE } from './cookies';
import { writeErrorPage } from './login-page';
import type { OidcStore, PendingAuthorization } from './oidc-store';

/** A login or consent form of a pending authorization, read and checked. */
export interface TransactionForm {
  serving: ServingRevision;
  form: URLSearchParams;
  transaction: string;
  pending: PendingAuthorization;
  cookies: Map<string, string>;
}

export const LOGIN_EXPIRED = 'This sign-in has expired or is unknown. Go back to the application and start again.';

/**
 * What the login and consent forms share before their own checks: a serving revision, a readable
 * form, a pending authorization at the right stage (`login`: not yet signed in, so a login form is
 * never taken twice; `consent`: signed in) and the CSRF token of the form, of the browser's cookie
 * and of the transaction all equal. null: the error page is written.
 */
export async function readTransactionForm(
  req: IncomingMessage,
  res: ServerResponse,
  active: ActiveConfiguration,
  store: OidcStore,
  stage: 'login' | 'consent',
): Promise<TransactionForm | null> {
  const refuse = (status: number, error: string, text: string): null => {
    writeErrorPage(res, status, error, text);
    return null;
  };
  const serving = active.current;
  if (!serving) return refuse(503, 'temporarily_unavailable', 'The sign-in service is starting; try again shortly.');
  const what = stage === 'login' ? 'sign-in' : 'consent';
  let form: URLSearchParams;
  try {
    form = await formParameters(req);
  } catch {
    return refuse(400, 'invalid_request', `The ${what} form could not be read.`);
  }
  const transaction = form.get('transaction') ?? '';
  const pending = transaction && transaction.length <= 128 ? await store.pending(transaction) : null;
  if (!pending || (stage === 'login') === Boolean(pending.user)) return refuse(400, 'login_expired', LOGIN_EXPIRED);
  const cookies = cookiesOf(req.headers.cookie);
  if (!sameSecret(form.get('csrf') ?? '', pending.csrf) || !sameSecret(cookies.get(CSRF_COOKIE) ?? '', pending.csrf)) {
    return refuse(403, 'csrf_failed', `The ${what} form was not sent by this browser. Go back to the application and start again.`);
  }
  return { serving, form, transaction, pending, cookies };
}

/** Constant-time comparison of two secrets (CSRF tokens, session ids, PKCE challenges); empty never matches. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
