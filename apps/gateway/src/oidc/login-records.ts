import { clipped, type AuthRecord } from '@idm/config-bus';
import { requestIdOf } from '@idm/platform';
import type { IncomingMessage } from 'node:http';
import type { AuthRecordFactory, DecidedFields } from '../auth-records/auth-record-factory';
import type { AuthRecorder } from '../auth-records/auth-recorder';

/** The policy of every OP login record, qualified by the OIDC client (`oidc-login:<client id>`), as token endpoints' are by their path. */
export const OIDC_LOGIN_POLICY = 'oidc-login';

/** Why a login form's credentials were refused; the page says the same generic thing for all of them, the record tells them apart. */
export type LoginRefusal = 'invalid_credentials' | 'account_locked' | 'account_disabled' | 'email_not_verified';

/** How one submitted login form ended. Never carries the password. */
export type LoginResult =
  | { outcome: 'verified'; credentialId: string }
  | { outcome: 'rejected'; reason: LoginRefusal; credentialId: string | null }
  /** The identity source could not answer (`source_unavailable`, `source_misconfigured`, `provisioning_unavailable`). */
  | { outcome: 'unavailable'; code: string }
  /** Refused before any check by the failure limits (`Retry-After`). */
  | { outcome: 'locked_out' }
  /** Username or password missing or too long. */
  | { outcome: 'incomplete' };

/** One login attempt of the OP login page: the OIDC client it was for, the username typed, how it ended. */
export interface LoginAttempt {
  clientId: string;
  projectId: string;
  username: string;
  issuer: string;
  result: LoginResult;
}

/** Told of every login attempt by `OidcProvider.login`; must return at once and never throw. */
export type LoginAttemptHook = (req: IncomingMessage, startedAt: number, attempt: LoginAttempt) => void;

/** The auth record fields a login attempt decides (the rest — time, address, user agent, latency — are the factory's). */
export function loginDecision(attempt: LoginAttempt): DecidedFields {
  const { result } = attempt;
  const decided = (outcome: AuthRecord['outcome'], status: number, reason: string | null, credentialId: string | null): DecidedFields => ({
    proxyId: null,
    proxyName: null,
    projectId: attempt.projectId,
    policy: clipped(`${OIDC_LOGIN_POLICY}:${attempt.clientId}`, 100),
    outcome,
    reason,
    status,
    credentialId,
    // What was typed (an unknown name included: the failing-credentials ranking needs it); empty is "none".
    username: attempt.username === '' ? null : clipped(attempt.username, 256),
    keyPrefix: null,
    clientId: clipped(attempt.clientId, 256),
    tokenType: null,
  });
  switch (result.outcome) {
    case 'verified':
      return decided('success', 200, null, result.credentialId);
    case 'rejected':
      return decided('denied', 401, result.reason, result.credentialId);
    case 'unavailable':
      return decided('denied', 503, clipped(result.code, 100), null);
    case 'locked_out':
      return decided('blocked', 429, 'too_many_failures', null);
    case 'incomplete':
      return decided('denied', 400, 'invalid_request', null);
  }
}

/** The hook that turns login attempts into auth records on the Gateway's one record path (queue, tail, analytics). */
export function loginAttemptRecorder(
  recorder: AuthRecorder,
  factory: AuthRecordFactory,
  addressOf: (peer: string, headers: IncomingMessage['headers']) => string,
): LoginAttemptHook {
  return (req, startedAt, attempt) => {
    if (!recorder.wants(attempt.result.outcome !== 'verified')) return;
    const record = factory.ofDecision(requestIdOf(req), startedAt, req.headers, addressOf(req.socket.remoteAddress ?? '', req.headers), loginDecision(attempt));
    record.issuer = clipped(attempt.issuer, 500);
    recorder.report(record);
  };
}
