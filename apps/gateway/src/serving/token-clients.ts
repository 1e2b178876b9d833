import type { SnapshotCredential } from '@idm/config-bus';
import { tokenSettingsSchema, type TokenSettings } from '@idm/domain';
import { credentialState, type CredentialDirectory, type DirectoryCredential } from '@idm/policies';

/**
 * A token client (`/credential`: every credential of the environment), with its token settings
 * validated once per version of the credential. A credential whose settings are null or do not validate can
 * authenticate but gets `unauthorized_client`: settings are never half-applied.
 */
export interface TokenClient {
  readonly credential: SnapshotCredential;
  /** The same credential as the proxy path's directory holds it (expiry parsed once): its state decides. */
  readonly entry: DirectoryCredential;
  /** null: no token service for this credential. */
  readonly settings: TokenSettings | null;
}

/** A client that passed authentication and may use the token service. */
export interface AuthenticatedClient extends TokenClient {
  readonly settings: TokenSettings;
  /** Set for a proxy's own client (`/auth`): its tokens are bound to that proxy. */
  readonly proxyId?: string;
  /** Epoch seconds: tokens of a proxy client issued before its proxy's current deployment are dead. */
  readonly notBefore?: number;
}

/**
 * The one "credential is live" rule of the Gateway, shared with the authentication policies:
 * enabled and not expired at `now` (deleted credentials are simply not found).
 */
export function mayObtainTokens(client: TokenClient, now: number): boolean {
  return credentialState(client.entry, now) === 'ok';
}

/**
 * Settings are validated on a client's first token call, not when the credential is indexed:
 * validating every credential's settings would make loading a million credentials wait for all
 * of them.
 */
class IndexedTokenClient implements TokenClient {
  private validated: TokenSettings | null | undefined;

  constructor(
    readonly credential: SnapshotCredential,
    readonly entry: DirectoryCredential,
  ) {}

  get settings(): TokenSettings | null {
    if (this.validated === undefined) {
      const parsed = this.credential.tokenSettings === null ? null : tokenSettingsSchema.safeParse(this.credential.tokenSettings);
      this.validated = parsed?.success ? parsed.data : null;
    }
    return this.validated;
  }
}

/**
 * The `/credential` token clients: a view over the credential directory, so a credential change
 * applied to the directory is what the token service sees next, with no index of its own to
 * rebuild. A client is made on a credential's first token call and kept with its directory
 * entry (replaced entries take theirs with them).
 */
export class TokenClients {
  private readonly clients = new WeakMap<DirectoryCredential, TokenClient>();

  constructor(private readonly directory: CredentialDirectory) {}

  /** By credential id, or by username when it names exactly one credential (usernames are unique per project only). */
  find(clientId: string): TokenClient | undefined {
    return this.clientOf(this.directory.findById(clientId) ?? this.directory.findByUsername(clientId));
  }

  findById(id: string): TokenClient | undefined {
    return this.clientOf(this.directory.findById(id));
  }

  /** A resource owner for the password grant: same project as the client (the directory's project index). */
  findOwner(projectId: string, username: string): TokenClient | undefined {
    return this.clientOf(this.directory.findCredential(projectId, username));
  }

  private clientOf(entry: DirectoryCredential | undefined): TokenClient | undefined {
    if (!entry) return undefined;
    let client = this.clients.get(entry);
    if (!client) {
      const credential = this.directory.sourceOf(entry.id);
      if (!credential) return undefined;
      client = new IndexedTokenClient(credential, entry);
      this.clients.set(entry, client);
    }
    return client;
  }
}
