import type { ConfigSnapshot, SnapshotCredential } from '@idm/config-bus';
import { CredentialRules, type CredentialRulesDeps } from './credential-rules/credential-rules';
import type { DirectoryCredential } from './policy';
import { ShardedMap } from './sharded-map';

export interface DirectoryApiKey {
  readonly id: string;
  readonly prefix: string;
  readonly expiresAt: number | null;
  readonly credential: DirectoryCredential;
}

const NO_RATE_LIMITS: CredentialRulesDeps = { rateLimitStore: null, onRateLimitStoreError: () => {} };

/**
 * The credentials of an environment, indexed for the request path: a request does a map lookup
 * and compares numbers (expiry dates are parsed here, never per request). Kept up to date one
 * credential at a time (`upsert`/`remove`, O(that credential's keys)), so a change to one of a
 * million credentials never rebuilds the others. Entries are frozen and replaced, never edited:
 * a request that already holds one keeps the version it found.
 */
export class CredentialDirectory {
  // Sharded: one Map of a million entries stalls the event loop each time it grows.
  private readonly byApiKeyHash = new ShardedMap<DirectoryApiKey>();
  private readonly byProjectUsername = new ShardedMap<DirectoryCredential>();
  private readonly byId = new ShardedMap<DirectoryCredential>();
  /** What each entry was built from (the token service reads roles, metadata and settings there; removal its key hashes). */
  private readonly sources = new ShardedMap<SnapshotCredential>();
  /** Credential id(s) per username across projects: token clients may name themselves by username when it is unique. */
  private readonly byUsername = new ShardedMap<string | string[]>();

  constructor(
    credentials: Iterable<SnapshotCredential> = [],
    private readonly rulesDeps: CredentialRulesDeps = NO_RATE_LIMITS,
  ) {
    for (const c of credentials) this.upsert(c);
  }

  static fromSnapshot(snapshot: Pick<ConfigSnapshot, 'credentials'>, rulesDeps?: CredentialRulesDeps): CredentialDirectory {
    return new CredentialDirectory(snapshot.credentials, rulesDeps);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Adds or replaces one credential (its id, project+username and API-key hashes). */
  upsert(c: SnapshotCredential): void {
    this.remove(c.id);
    const credential: DirectoryCredential = Object.freeze({
      id: c.id,
      projectId: c.projectId,
      username: c.username,
      passwordHash: c.passwordHash,
      enabled: c.enabled,
      expiresAt: parseExpiry(c.expiresAt),
      rules: CredentialRules.compile(c.id, c.access ?? {}, this.rulesDeps),
      digestHa1: c.digestHa1 ?? null,
      truststore: frozenCopy(c.truststore),
      roles: frozenCopy(c.roles),
    });
    this.sources.set(c.id, c);
    this.byId.set(c.id, credential);
    this.byProjectUsername.set(projectUsernameKey(c.projectId, c.username), credential);
    for (const k of c.apiKeys) {
      this.byApiKeyHash.set(k.hash, Object.freeze({ id: k.id, prefix: k.prefix, expiresAt: parseExpiry(k.expiresAt), credential }));
    }
    const holders = this.byUsername.get(c.username);
    this.byUsername.set(c.username, holders === undefined ? c.id : [...(typeof holders === 'string' ? [holders] : holders), c.id]);
  }

  /** Drops one credential and every index entry that still points at it; unknown ids are ignored. */
  remove(id: string): void {
    const source = this.sources.get(id);
    if (!source) return;
    this.sources.delete(id);
    this.byId.delete(id);
    // Only entries that are still this credential's: another may have taken the name or key since.
    const nameKey = projectUsernameKey(source.projectId, source.username);
    if (this.byProjectUsername.get(nameKey)?.id === id) this.byProjectUsername.delete(nameKey);
    for (const k of source.apiKeys) if (this.byApiKeyHash.get(k.hash)?.credential.id === id) this.byApiKeyHash.delete(k.hash);
    const holders = this.byUsername.get(source.username);
    const left = typeof holders === 'string' || holders === undefined ? [] : holders.filter((h) => h !== id);
    if (left.length === 0) this.byUsername.delete(source.username);
    else this.byUsername.set(source.username, left.length === 1 ? left[0] : left);
  }

  /** `hash` is the SHA-256 hex of the presented key (see `hashApiKey`). */
  findApiKey(hash: string): DirectoryApiKey | undefined {
    return this.byApiKeyHash.get(hash);
  }

  findCredential(projectId: string, username: string): DirectoryCredential | undefined {
    return this.byProjectUsername.get(projectUsernameKey(projectId, username));
  }

  /** Bearer tokens name their credential by id; a deleted credential is simply absent. */
  findById(credentialId: string): DirectoryCredential | undefined {
    return this.byId.get(credentialId);
  }

  /** The credential of that username when exactly one project uses it; undefined when none or several do. */
  findByUsername(username: string): DirectoryCredential | undefined {
    const holders = this.byUsername.get(username);
    return typeof holders === 'string' ? this.byId.get(holders) : undefined;
  }

  /** The snapshot entity an entry was built from (same lifetime as the entry). */
  sourceOf(credentialId: string): SnapshotCredential | undefined {
    return this.sources.get(credentialId);
  }
}

const NONE: readonly string[] = Object.freeze([]);
/** Most credentials have no roles or truststore: they share one empty array (a million fewer objects). */
const frozenCopy = (items: readonly string[] | undefined): readonly string[] => (items && items.length > 0 ? Object.freeze([...items]) : NONE);

// NUL cannot occur in either part, so the joined key is unambiguous.
const projectUsernameKey = (projectId: string, username: string) => `${projectId}\u0000${username}`;

function parseExpiry(value: string | null): number | null {
  if (value === null) return null;
  const ms = Date.parse(value);
  // An unparseable date must not mean "never expires": treat it as already expired.
  return Number.isNaN(ms) ? 0 : ms;
}

/** Shared by the authentication policies so their verdicts and reasons never drift apart. */
export type CredentialState = 'ok' | 'credential_disabled' | 'credential_expired';

export function credentialState(credential: DirectoryCredential, now: number): CredentialState {
  if (!credential.enabled) return 'credential_disabled';
  if (credential.expiresAt !== null && credential.expiresAt <= now) return 'credential_expired';
  return 'ok';
}
