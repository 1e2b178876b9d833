import type { PasswordVerificationCache } from '@idm/policies';
import type { TokenClient, TokenClients } from '../serving/token-clients';
import { mayObtainTokens } from '../serving/token-clients';

/**
 * What the login page asks of an identity source: is this the password of that user of the
 * project? `rejected` covers an unknown user, a wrong password, a disabled, expired or locked
 * account and a machine credential alike (the page says the same generic thing for all);
 * `unavailable` is a source that could not answer (a directory outage), never a success.
 * Our own store is one implementation; LDAP/SQL identity sources plug in behind the same
 * interface (`src/identity-sources/federated-password-validator.ts`: just-in-time provisioned end users).
 */
export type EndUserLogin =
  | { outcome: 'verified'; user: TokenClient }
  | { outcome: 'rejected'; refused?: AccountRefusal }
  | { outcome: 'unavailable'; code: string }
  /** Every source the client names for an unknown username is an external OIDC IdP: none of them checks a password (sign in with its button instead). */
  | { outcome: 'no_password_source' };

/** Set on a refusal only once the password was right: the account itself refused (for the auth record; the page never tells). */
export interface AccountRefusal {
  reason: 'account_locked' | 'account_disabled';
  credentialId: string;
}

export interface EndUserPasswordValidator {
  /** `sourceNames`: the identity sources the client lists (its token settings), in order; empty: our own store only. */
  verify(projectId: string, username: string, password: string, now: number, sourceNames?: readonly string[]): Promise<EndUserLogin>;
}

/** End users of our own store: credentials with an end-user profile, argon2id through the shared verification cache. */
export class CredentialPasswordValidator implements EndUserPasswordValidator {
  constructor(
    private readonly clients: () => TokenClients | null,
    private readonly passwords: PasswordVerificationCache,
  ) {}

  async verify(projectId: string, username: string, password: string, now: number): Promise<EndUserLogin> {
    const user = this.clients()?.findOwner(projectId, username);
    const hash = user?.credential.passwordHash;
    if (!user || !hash) {
      // The same argon2 cost as a real check: timing does not tell which usernames exist.
      await this.passwords.verifyNothing(password);
      return { outcome: 'rejected' };
    }
    const verified = this.passwords.verify(user.credential.id, hash, password);
    const ok = verified === true || (await verified);
    if (!ok) return { outcome: 'rejected' };
    return isLoginAllowed(user, now) ? { outcome: 'verified', user } : { outcome: 'rejected', refused: accountRefusal(user) };
  }
}

/** An end user (has a profile), live (enabled, not expired) and not locked. */
export function isLoginAllowed(user: TokenClient, now: number): boolean {
  const profile = user.credential.endUser;
  return profile !== null && !profile.locked && mayObtainTokens(user, now);
}

/** Why a user whose password was right may not log in: locked by an operator, or not a live end user (disabled, expired, a machine credential). */
export function accountRefusal(user: TokenClient): AccountRefusal {
  return { reason: user.credential.endUser?.locked ? 'account_locked' : 'account_disabled', credentialId: user.credential.id };
}
