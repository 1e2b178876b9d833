import type { ConfigSnapshot, SnapshotCredential } from '@idm/config-bus';
import { issuedLifetimeSeconds, tokenSettingsSchema, type TokenSettings } from '@idm/domain';
import type { SecretOpener } from '@idm/tokens';

/**
 * The token clients of one revision (`/credential`: every credential of the environment), with
 * their token settings validated once. A credential whose settings are null or do not validate
 * can authenticate but gets `unauthorized_client`: settings are never half-applied.
 */
export interface TokenClient {
  readonly credential: SnapshotCredential;
  /** null: no token service for this credential. */
  readonly settings: TokenSettings | null;
}

/** `never` is capped so every token still carries `exp`; the Manager bounds key retirement by the same cap. */
export const lifetimeOf = issuedLifetimeSeconds;

export class TokenClients {
  private readonly byId = new Map<string, TokenClient>();
  /** Usernames are unique per project only; one used in two projects is refused as a client id. */
  private readonly byUsername = new Map<string, TokenClient | 'ambiguous'>();

  private constructor(credentials: readonly SnapshotCredential[]) {
    for (const credential of credentials) {
      const parsed = credential.tokenSettings === null ? null : tokenSettingsSchema.safeParse(credential.tokenSettings);
      const client: TokenClient = Object.freeze({ credential, settings: parsed?.success ? parsed.data : null });
      this.byId.set(credential.id, client);
      this.byUsername.set(credential.username, this.byUsername.has(credential.username) ? 'ambiguous' : client);
    }
  }

  private static readonly perSnapshot = new WeakMap<ConfigSnapshot, TokenClients>();

  static of(snapshot: ConfigSnapshot): TokenClients {
    let clients = TokenClients.perSnapshot.get(snapshot);
    if (!clients) TokenClients.perSnapshot.set(snapshot, (clients = new TokenClients(snapshot.credentials)));
    return clients;
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

  /** A resource owner for the password grant: same project as the client. */
  findOwner(projectId: string, username: string): TokenClient | undefined {
    const owner = this.byUsername.get(username);
    if (owner && owner !== 'ambiguous') return owner.credential.projectId === projectId ? owner : undefined;
    for (const client of this.byId.values()) if (client.credential.projectId === projectId && client.credential.username === username) return client;
    return undefined;
  }
}

/** Enabled and not expired at `now`; deleted credentials are simply not found. */
export function isLive(credential: SnapshotCredential, now: number): boolean {
  if (!credential.enabled) return false;
  if (credential.expiresAt === null) return true;
  // An unparseable date must not mean "never expires".
  const expiresAt = Date.parse(credential.expiresAt);
  return !Number.isNaN(expiresAt) && expiresAt > now;
}

/** Metadata entries flagged for a place, secrets opened with the master key. A secret that cannot be opened is left out. */
export function metadataFor(credential: SnapshotCredential, flag: 'includeInJwt' | 'includeInTokenResponse', secrets: SecretOpener): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of credential.metadata) {
    if (!entry[flag]) continue;
    if (!entry.secret) out[entry.key] = entry.value;
    else {
      try {
        out[entry.key] = secrets.open(entry.value);
      } catch {
        // Sealed with a master key this Gateway does not hold: omit rather than leak the sealed text.
      }
    }
  }
  return out;
}
