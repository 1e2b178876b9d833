import type { ConfigSnapshot, SnapshotCredential } from '@idm/config-bus';
import { CredentialRules, type CredentialRulesDeps } from './credential-rules/credential-rules';
import type { DirectoryCredential } from './policy';
import { CredentialRecords, type CredentialKeys } from './credential-store/credential-records';
import { RecentCache } from './credential-store/recent-cache';

export interface DirectoryApiKey {
  readonly id: string;
  readonly prefix: string;
  readonly expiresAt: number | null;
  /** SHA-256 hex of the key (what it was found by). */
  readonly hash: string;
  readonly credential: DirectoryCredential;
}

const NO_RATE_LIMITS: CredentialRulesDeps = { rateLimitStore: null, onRateLimitStoreError: () => {} };

/** Credentials kept compiled per generation of the caches (RecentCache): the hot ones, not all. */
const DEFAULT_COMPILED_CREDENTIALS = 20_000;

/** A credential as the request path uses it, compiled from its record on first use. */
interface CompiledCredential {
  readonly entry: DirectoryCredential;
  readonly source: SnapshotCredential;
  readonly apiKeys: readonly DirectoryApiKey[];
}

export interface CredentialDirectoryOptions {
  rulesDeps?: CredentialRulesDeps;
  /** Compiled credentials kept per cache generation (default 20,000). */
  compiledCredentials?: number;
  /** Bytes per record slab (specs use small ones to exercise compaction). */
  slabBytes?: number;
}

/**
 * The credentials of an environment, indexed for the request path. Every credential is kept as
 * bytes (`CredentialRecords`: off-heap slabs, typed-array indexes), and only those recently
 * looked up are compiled into objects (expiry parsed, rules compiled), in bounded caches: a
 * million credentials are no longer a million object graphs the garbage collector traces on every
 * major GC (800 ms pauses at 1M). A hot lookup is one Map hit, as before.
 *
 * Kept up to date one credential at a time (`upsert`/`remove`, O(that credential's keys)); a
 * change drops every cached entry the old or new version could answer, so the next lookup
 * compiles the new record (a revoked key or a disabled credential is refused by the very next
 * request). Compiled entries are frozen and replaced, never edited: a request that already holds
 * one keeps the version it found.
 */
export class CredentialDirectory {
  private readonly records: CredentialRecords;
  private readonly rulesDeps: CredentialRulesDeps;
  private readonly bySlot: RecentCache<number, CompiledCredential>;
  private readonly byApiKeyHash: RecentCache<string, DirectoryApiKey>;
  private readonly byProjectUsername: RecentCache<string, DirectoryCredential>;
  private readonly byId: RecentCache<string, DirectoryCredential>;
  private readonly byUsername: RecentCache<string, DirectoryCredential>;

  constructor(credentials: Iterable<SnapshotCredential> = [], options: CredentialDirectoryOptions = {}) {
    this.rulesDeps = options.rulesDeps ?? NO_RATE_LIMITS;
    this.records = new CredentialRecords(options.slabBytes);
    const capacity = options.compiledCredentials ?? DEFAULT_COMPILED_CREDENTIALS;
    this.bySlot = new RecentCache(capacity);
    this.byApiKeyHash = new RecentCache(capacity);
    this.byProjectUsername = new RecentCache(capacity);
    this.byId = new RecentCache(capacity);
    this.byUsername = new RecentCache(capacity);
    for (const c of credentials) this.upsert(c);
  }

  static fromSnapshot(snapshot: Pick<ConfigSnapshot, 'credentials'>, rulesDeps?: CredentialRulesDeps): CredentialDirectory {
    return new CredentialDirectory(snapshot.credentials, { rulesDeps });
  }

  get size(): number {
    return this.records.size;
  }

  /** Adds or replaces one credential (its id, project+username and API-key hashes). */
  upsert(c: SnapshotCredential): void {
    this.remove(c.id);
    this.records.put(c);
    // Nothing compiled yet (a directory being filled by a full load): nothing to forget, and no
    // keys object and name key built per credential (garbage a million times over).
    if (this.nothingCompiled()) return;
    // What the new version takes over from others (a key hash, a name) or makes ambiguous (a username).
    this.forget({ id: c.id, projectId: c.projectId, username: c.username, apiKeyHashes: c.apiKeys.map((k) => k.hash) });
  }

  /** Drops one credential and every index entry that still points at it; unknown ids are ignored. */
  remove(id: string): void {
    const slot = this.records.slotOfId(id);
    if (slot < 0) return;
    this.bySlot.delete(slot);
    this.forget(this.records.keysAt(slot));
    this.records.delete(id);
  }

  /** `hash` is the SHA-256 hex of the presented key (see `hashApiKey`). */
  findApiKey(hash: string): DirectoryApiKey | undefined {
    let key = this.byApiKeyHash.get(hash);
    if (key === undefined) {
      const slot = this.records.slotOfApiKey(hash);
      key = slot < 0 ? undefined : this.compiledAt(slot).apiKeys.find((k) => k.hash === hash);
      if (key) this.byApiKeyHash.set(hash, key);
    }
    return key;
  }

  findCredential(projectId: string, username: string): DirectoryCredential | undefined {
    const name = projectUsernameKey(projectId, username);
    let entry = this.byProjectUsername.get(name);
    if (entry === undefined) {
      const slot = this.records.slotOfProjectUsername(projectId, username);
      if (slot < 0) return undefined;
      this.byProjectUsername.set(name, (entry = this.compiledAt(slot).entry));
    }
    return entry;
  }

  /** Bearer tokens name their credential by id; a deleted credential is simply absent. */
  findById(credentialId: string): DirectoryCredential | undefined {
    let entry = this.byId.get(credentialId);
    if (entry === undefined) {
      const slot = this.records.slotOfId(credentialId);
      if (slot < 0) return undefined;
      this.byId.set(credentialId, (entry = this.compiledAt(slot).entry));
    }
    return entry;
  }

  /** The credential of that username when exactly one project uses it; undefined when none or several do. */
  findByUsername(username: string): DirectoryCredential | undefined {
    let entry = this.byUsername.get(username);
    if (entry === undefined) {
      const slots = this.records.slotsOfUsername(username);
      if (slots.length !== 1) return undefined;
      this.byUsername.set(username, (entry = this.compiledAt(slots[0]).entry));
    }
    return entry;
  }

  /** The snapshot entity an entry was built from (decoded from its record when not compiled). */
  sourceOf(credentialId: string): SnapshotCredential | undefined {
    const slot = this.records.slotOfId(credentialId);
    return slot < 0 ? undefined : this.compiledAt(slot).source;
  }

  private compiledAt(slot: number): CompiledCredential {
    let compiled = this.bySlot.get(slot);
    if (compiled === undefined) {
      compiled = compile(this.records.read(slot), this.rulesDeps);
      this.bySlot.set(slot, compiled);
    }
    return compiled;
  }

  /** Drops the cached entries any of these keys could answer. */
  private nothingCompiled(): boolean {
    return this.bySlot.size + this.byApiKeyHash.size + this.byProjectUsername.size + this.byId.size + this.byUsername.size === 0;
  }

  private forget(keys: CredentialKeys): void {
    this.byId.delete(keys.id);
    this.byProjectUsername.delete(projectUsernameKey(keys.projectId, keys.username));
    this.byUsername.delete(keys.username);
    for (const hash of keys.apiKeyHashes) this.byApiKeyHash.delete(hash);
  }
}

function compile(c: SnapshotCredential, rulesDeps: CredentialRulesDeps): CompiledCredential {
  const entry: DirectoryCredential = Object.freeze({
    id: c.id,
    projectId: c.projectId,
    username: c.username,
    passwordHash: c.passwordHash,
    // A locked end user authenticates nowhere (login page, password grants, basic-auth, and the
    // bearer tokens already issued to them at jwt-auth / oauth2-auth / introspection): as disabled.
    enabled: c.enabled && c.endUser?.locked !== true,
    expiresAt: parseExpiry(c.expiresAt),
    rules: CredentialRules.compile(c.id, c.access ?? {}, rulesDeps),
    digestHa1: c.digestHa1 ?? null,
    truststore: frozenCopy(c.truststore),
    roles: frozenCopy(c.roles),
  });
  const apiKeys = c.apiKeys.map((k) => Object.freeze({ id: k.id, prefix: k.prefix, hash: k.hash, expiresAt: parseExpiry(k.expiresAt), credential: entry }));
  return { entry, source: c, apiKeys };
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
