import type { PasswordVerificationCache } from '@idm/policies';
import { OAuthError } from '@idm/tokens';
import type { PresentedClient } from './client-authentication';
import type { EndUserPasswordValidator } from '../oidc/end-user-password-validator';
import { grantedScope } from './scope-resolution';
import { mayObtainTokens, type AuthenticatedClient, type TokenClient, type TokenClients } from '../serving/token-clients';

/*
 * Client authentication and the two grants that create a new family (client_credentials,
 * password). Every failure is an OAuthError with the RFC 6749 code; a wrong secret, an unknown
 * client and a disabled one all read `invalid_client`, so the answer reveals no account state.
 */

export interface NewGrant {
  /** Whose token it is: the client itself, or the resource owner of a password grant. */
  owner: TokenClient;
  scope: string;
}

export async function authenticateClient(clients: TokenClients, presented: PresentedClient, passwords: PasswordVerificationCache, now: number): Promise<AuthenticatedClient> {
  const client = clients.find(presented.clientId);
  const hash = client?.credential.passwordHash;
  if (!client || !hash) {
    await passwords.verifyNothing(presented.clientSecret);
    throw new OAuthError('invalid_client', 'client authentication failed');
  }
  const verified = passwords.verify(client.credential.id, hash, presented.clientSecret);
  if (!(verified === true || (await verified)) || !mayObtainTokens(client, now)) throw new OAuthError('invalid_client', 'client authentication failed');
  if (!client.settings) throw new OAuthError('unauthorized_client', 'this client may not obtain tokens');
  return client as AuthenticatedClient;
}

export function requireGrant(client: AuthenticatedClient, grant: 'client_credentials' | 'password' | 'refresh_token' | 'authorization_code'): void {
  if (!client.settings.grants.includes(grant)) throw new OAuthError('unauthorized_client', `this client may not use the ${grant} grant`);
}

export async function newGrant(
  grantType: string | null,
  params: URLSearchParams,
  client: AuthenticatedClient,
  clients: TokenClients,
  passwords: PasswordVerificationCache,
  now: number,
  owners?: EndUserPasswordValidator,
): Promise<NewGrant> {
  if (grantType === 'client_credentials') {
    requireGrant(client, 'client_credentials');
    return { owner: client, scope: grantedScope(params.get('scope'), client.settings) };
  }
  if (grantType === 'password') {
    requireGrant(client, 'password');
    const username = params.get('username');
    const password = params.get('password');
    if (!username || !password) throw new OAuthError('invalid_request', 'username and password are required');
    const scope = grantedScope(params.get('scope'), client.settings);
    const sourceNames = client.settings.identitySources ?? [];
    if (owners && sourceNames.length > 0) return { owner: await federatedOwner(owners, client, username, password, now, sourceNames), scope };
    const owner = clients.findOwner(client.credential.projectId, username);
    if (!owner?.credential.passwordHash) {
      await passwords.verifyNothing(password);
      throw new OAuthError('invalid_grant', 'the resource owner credentials are invalid');
    }
    const verified = passwords.verify(owner.credential.id, owner.credential.passwordHash, password);
    if (!(verified === true || (await verified)) || !mayObtainTokens(owner, now)) throw new OAuthError('invalid_grant', 'the resource owner credentials are invalid');
    return { owner, scope };
  }
  if (grantType === null) throw new OAuthError('invalid_request', 'grant_type is required');
  throw new OAuthError('unsupported_grant_type', 'the grant type is not supported');
}

/**
 * The resource owner when the client lists identity sources: a local end user (our store) or a
 * directory user provisioned as an end user (see FederatedPasswordValidator). A source that could
 * not answer is a 503 naming its reason, never a wrong password and never "allow".
 */
async function federatedOwner(
  owners: EndUserPasswordValidator,
  client: AuthenticatedClient,
  username: string,
  password: string,
  now: number,
  sourceNames: readonly string[],
): Promise<TokenClient> {
  const login = await owners.verify(client.credential.projectId, username, password, now, sourceNames);
  if (login.outcome === 'verified') return login.user;
  if (login.outcome === 'unavailable') throw new OAuthError('temporarily_unavailable', `the identity source cannot verify the password right now (${login.code})`, 503);
  if (login.outcome === 'no_password_source')
    throw new OAuthError(
      'invalid_grant',
      "the client's identity sources are external OpenID Providers, which check no password here (no_password_source): sign in through the authorization code flow",
    );
  throw new OAuthError('invalid_grant', 'the resource owner credentials are invalid');
}
