import type { PolicyRejection } from '../policy';
import type { RejectionCode } from '../rejection-reasons';

/** The codes every credential-backed policy answers for a credential that may not authenticate now. */
export type CredentialStateCode = 'credential_disabled' | 'credential_expired';

export const CREDENTIAL_STATE_MESSAGES: Readonly<Record<CredentialStateCode, string>> = Object.freeze({
  credential_disabled: 'The credential is disabled',
  credential_expired: 'The credential has expired',
});

/**
 * An authentication policy's 401 answers, built once at compile time: frozen (the request path
 * returns them without allocating), each with the one WWW-Authenticate challenge the client
 * needs to try again, the credential-state answers included unless the policy words them itself.
 */
export function standardRejections<Code extends RejectionCode>(
  challenge: string,
  messages: Readonly<Record<Code, string>> & Partial<Record<CredentialStateCode, string>>,
): Readonly<Record<Code | CredentialStateCode, PolicyRejection>> {
  const headers = Object.freeze({ 'www-authenticate': challenge });
  const all: Record<string, string> = { ...CREDENTIAL_STATE_MESSAGES, ...messages };
  const rejections: Record<string, PolicyRejection> = {};
  for (const [code, message] of Object.entries(all)) rejections[code] = Object.freeze({ status: 401, code: code as RejectionCode, message, headers });
  return Object.freeze(rejections);
}
