import type { SnapshotCredential } from '@idm/config-bus';
import { tokenSettingsSchema, type TokenSettings } from '@idm/domain';
import { credentialState, type CredentialDirectory, type DirectoryCredential } from '@idm/policies';

/**
 * A token client of one revision (`/credential`: every credential of the environment), with its
 * token settings validated once per revision. A credential whose settings are null or do not validate can
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
 * Settings are validated on a client's first token call in the revision, not when the index is
 * built: validating every credential's settings would make the revision's first token call wait
 * for all of them (as long as compiling the whole revision, for 10k credentials).
 */
class IndexedTokenClient implements TokenClient {
  private validated: TokenSettings | null | undefined;

  constructor(readonly credential: SnapshotCredential, readonly entry: DirectoryCredential) {}

  get settings(): TokenSettings | null {
    if (this.validated === undefined) {
      const parsed = this.credential.tokenSettings === null ? null : tokenSettingsSchema.safeParse(this.credential.tokenSettings);
      this.validated = parsed?.success ? parsed.data : null;
    }
    return this.validated;
  }
}

/** The `/credential` token clients of one revision, indexed once per revision. */
export class TokenClients {
  private readonly byId = new Map<string, TokenClient>();
  /** Usernames are unique per project only; one used in two projects is refused as a client id. */
  private readonly byUsername = new Map<string, TokenClient | 'ambiguous'>();

  constructor(credentials: readonly SnapshotCredential[], private readonly directory: CredentialDirectory) {
    for (const credential of credentials) {
      const entry = directory.findById(credential.id);
      if (!entry) continue; // the directory indexes every credential of the same snapshot
      const client = new IndexedTokenClient(credential, entry);
      this.byId.set(credential.id, client);
      this.byUsername.set(credential.username, this.byUsername.has(credential.username) ? 'ambiguous' : client);
    }
  }

  /** By credential id, or by username when it names exactly one credential. */
  find(clientId: string): TokenClient | undefined {
    const byId = this.byId.get(clientId);
    if (byId) return byId;
    const byName = this.byUsername.get(clientId);
    return byName === 'ambiguous' ? undefined : byName;
  }

  findById(id: string): TokenClient | undefined {
    return this.byId.get(id);
  }

  /** A resource owner for the password grant: same project as the client (the directory's project index). */
  findOwner(projectId: string, username: string): TokenClient | undefined {
    const entry = this.directory.findCredential(projectId, username);
    return entry && this.byId.get(entry.id);
  }
}
