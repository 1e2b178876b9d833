import { credentialState } from '../credential-directory';
import type { DirectoryCredential, Identity, PolicyRejection, RequestContext } from '../policy';
import { withdraw, type CredentialSource } from './presented';
import type { CredentialStateCode } from './standard-rejections';

/** The answer for a credential that may not authenticate now (disabled, expired); undefined when it may. */
export function credentialRefusal(credential: DirectoryCredential, now: number, rejections: Readonly<Record<CredentialStateCode, PolicyRejection>>): PolicyRejection | undefined {
  const state = credentialState(credential, now);
  return state === 'ok' ? undefined : rejections[state];
}

/**
 * The one way a policy authenticates a request (Kong's `kong.client.authenticate`): the identity
 * forwarded upstream, the credential whose rules run next, and the presented credential removed
 * when the policy strips it (`strip`: where it was read; null keeps it).
 */
export function establish(ctx: RequestContext, credential: DirectoryCredential, strip: CredentialSource | null): undefined {
  ctx.identity = { credentialId: credential.id, username: credential.username, projectId: credential.projectId };
  ctx.credential = credential;
  if (strip !== null) withdraw(ctx, strip);
  return undefined;
}

/** As `establish`, for an identity without a credential (a proxy's own token-service client): no credential rules apply. */
export function establishWithoutCredential(ctx: RequestContext, identity: Identity, strip: CredentialSource | null): undefined {
  ctx.identity = identity;
  ctx.credential = null;
  if (strip !== null) withdraw(ctx, strip);
  return undefined;
}
