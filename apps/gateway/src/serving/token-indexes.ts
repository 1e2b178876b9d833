import type { SnapshotProxy } from '@idm/config-bus';
import { JwtVerifier, type RevokedTokenIds, type SecretOpener, type SigningKeyRing } from '@idm/tokens';
import { ProxyTokenClients } from './proxy-token-clients';
import type { TokenClients } from './token-clients';

/**
 * What the token service reads of a revision. `clients` is the directory's live view (credential
 * changes reach it in place); the rest is built once per set of proxies and key ring.
 */
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

export function buildTokenIndexes(
  proxies: ReadonlyMap<string, SnapshotProxy>,
  clients: TokenClients,
  keyRing: SigningKeyRing,
  secrets: SecretOpener | null,
  revoked: RevokedTokenIds | null,
): TokenIndexes {
  const projectBasePaths = new Map<string, string[]>();
  for (const proxy of proxies.values()) {
    const paths = projectBasePaths.get(proxy.projectId);
    if (paths) paths.push(proxy.basePath);
    else projectBasePaths.set(proxy.projectId, [proxy.basePath]);
  }
  return Object.freeze({
    clients,
    proxyClients: new ProxyTokenClients(proxies.values(), secrets ?? NO_SECRETS),
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
