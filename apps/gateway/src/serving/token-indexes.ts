import type { ConfigSnapshot } from '@idm/config-bus';
import type { CredentialDirectory } from '@idm/policies';
import { JwtVerifier, type RevokedTokenIds, type SecretOpener, type SigningKeyRing } from '@idm/tokens';
import { ProxyTokenClients } from './proxy-token-clients';
import { TokenClients } from './token-clients';

/** What the token service reads of a revision; each index is built once per revision. */
export interface TokenIndexes {
  /** `/credential` clients: the revision's credentials. */
  readonly clients: TokenClients;
  /** `/auth` clients: the deployed proxies' token-service settings. */
  readonly proxyClients: ProxyTokenClients;
  /** Base paths of each project's proxies (the audience of a `/credential` JWT). */
  readonly projectBasePaths: ReadonlyMap<string, readonly string[]>;
  /** Our own JWTs, any issuer URL of ours (introspection and regeneration then want the exact one of the call). */
  readonly ownJwts: JwtVerifier;
  /** The same without the revocation list: revoking again must record what an earlier, failed attempt only noted locally. */
  readonly ownJwtsIgnoringRevocations: JwtVerifier;
}

const OWN_ISSUER = /^https?:\/\/[^/?#]+\/(auth|credential)$/;
const isOwnIssuer = (iss: string) => OWN_ISSUER.test(iss);

export function buildTokenIndexes(snapshot: ConfigSnapshot, directory: CredentialDirectory, keyRing: SigningKeyRing, secrets: SecretOpener | null, revoked: RevokedTokenIds | null): TokenIndexes {
  const projectBasePaths = new Map<string, string[]>();
  for (const proxy of snapshot.proxies) {
    const paths = projectBasePaths.get(proxy.projectId);
    if (paths) paths.push(proxy.basePath);
    else projectBasePaths.set(proxy.projectId, [proxy.basePath]);
  }
  return Object.freeze({
    clients: new TokenClients(snapshot.credentials, directory),
    proxyClients: new ProxyTokenClients(snapshot.proxies, secrets ?? NO_SECRETS),
    projectBasePaths,
    ownJwts: new JwtVerifier(keyRing, { issuer: isOwnIssuer, revoked }),
    ownJwtsIgnoringRevocations: new JwtVerifier(keyRing, { issuer: isOwnIssuer }),
  });
}

/** Without a master key no proxy client secret opens: those clients always fail authentication. */
const NO_SECRETS: SecretOpener = {
  open: () => {
    throw new Error('no master key');
  },
};
