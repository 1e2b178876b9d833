import type { PolicyCompileDeps } from '../compile-dependencies';
import type { DirectoryCredential } from '../policy';

/**
 * Username + password against the proxy's project (basic-auth, base64-auth): the credential
 * when the password is right, else null. An unknown user or a credential without a password
 * costs a full argon2 check too, so timing does not reveal which usernames exist. Synchronous
 * when the shared verification cache already knows the answer.
 */
export function verifyPassword(deps: PolicyCompileDeps, username: string, password: string): DirectoryCredential | null | Promise<DirectoryCredential | null> {
  const credential = deps.directory.findCredential(deps.proxy.projectId, username);
  if (!credential || credential.passwordHash === null) return deps.passwordCache.verifyNothing(password).then(() => null);
  const verified = deps.passwordCache.verify(credential.id, credential.passwordHash, password);
  if (verified === true) return credential;
  return verified.then((ok) => (ok ? credential : null));
}
