import type { SnapshotCredential } from '@idm/config-bus';
import { hashString, HashIndex, mixHash } from './hash-index';
import { RecordSlabs } from './record-slabs';

/** What a credential is found by, read from its record without decoding the rest. */
export interface CredentialKeys {
  readonly id: string;
  readonly projectId: string;
  readonly username: string;
  readonly apiKeyHashes: readonly string[];
}

/**
 * Every credential of an environment as bytes: one record per credential in `RecordSlabs`, found
 * through four `HashIndex`es (id, API-key hash, project + username, username). Nothing here is an
 * object per credential, so a million of them cost the garbage collector nothing to trace; a
 * record is decoded (`read`) only when a lookup needs it (CredentialDirectory keeps the recent
 * ones compiled).
 *
 * Record: u32 number of API keys, then strings as u32 byte length + UTF-8: id, projectId,
 * username, each API key's hash, and the JSON of everything else (fields holding their empty
 * default left out: most credentials have no roles, metadata, rules or settings).
 *
 * An API-key hash and a project + username belong to one credential at a time: the one upserted
 * last takes them over (the directory's rule since it was a map).
 */
export class CredentialRecords {
  private readonly slabs: RecordSlabs;
  private readonly byId = new HashIndex();
  private readonly byApiKeyHash = new HashIndex();
  private readonly byProjectUsername = new HashIndex();
  private readonly byUsername = new HashIndex();

  constructor(slabBytes?: number) {
    this.slabs = new RecordSlabs(slabBytes);
  }

  get size(): number {
    return this.slabs.size;
  }

  /** Adds or replaces the credential of `c.id`; its slot. */
  put(c: SnapshotCredential): number {
    this.delete(c.id);
    // Written field by field, without an array of the strings and their lengths: a full load puts
    // a million credentials, and each temporary here was garbage per credential.
    const body = bodyOf(c);
    let length = 4 + 12 + Buffer.byteLength(c.id) + Buffer.byteLength(c.projectId) + Buffer.byteLength(c.username) + 4 + Buffer.byteLength(body);
    for (const key of c.apiKeys) length += 4 + Buffer.byteLength(key.hash);
    const slot = this.slabs.allocate(length);
    const buffer = this.slabs.buffer(slot);
    let offset = buffer.writeUInt32LE(c.apiKeys.length, this.slabs.start(slot));
    offset = writeString(buffer, offset, c.id);
    offset = writeString(buffer, offset, c.projectId);
    offset = writeString(buffer, offset, c.username);
    for (const key of c.apiKeys) offset = writeString(buffer, offset, key.hash);
    writeString(buffer, offset, body);
    this.byId.add(idHash(c.id), slot);
    for (const { hash } of c.apiKeys) {
      const h = apiKeyHash(hash);
      const holder = this.byApiKeyHash.find(h, hash, this.holdsApiKey);
      if (holder >= 0) this.byApiKeyHash.delete(h, holder);
      this.byApiKeyHash.add(h, slot);
    }
    const nameHash = projectUsernameHash(c.projectId, c.username);
    const holder = this.byProjectUsername.find(nameHash, [c.projectId, c.username] as const, this.holdsName);
    if (holder >= 0) this.byProjectUsername.delete(nameHash, holder);
    this.byProjectUsername.add(nameHash, slot);
    this.byUsername.add(usernameHash(c.username), slot);
    return slot;
  }

  /** Removes the credential and every index entry still its own; false when unknown. */
  delete(id: string): boolean {
    const slot = this.slotOfId(id);
    if (slot < 0) return false;
    const keys = this.keysAt(slot);
    this.byId.delete(idHash(id), slot);
    for (const hash of keys.apiKeyHashes) this.byApiKeyHash.delete(apiKeyHash(hash), slot);
    this.byProjectUsername.delete(projectUsernameHash(keys.projectId, keys.username), slot);
    this.byUsername.delete(usernameHash(keys.username), slot);
    this.slabs.free(slot);
    return true;
  }

  slotOfId(id: string): number {
    return this.byId.find(idHash(id), id, this.hasId);
  }

  slotOfApiKey(hash: string): number {
    return this.byApiKeyHash.find(apiKeyHash(hash), hash, this.holdsApiKey);
  }

  slotOfProjectUsername(projectId: string, username: string): number {
    return this.byProjectUsername.find(projectUsernameHash(projectId, username), [projectId, username] as const, this.holdsName);
  }

  /** Slots of every credential named `username`, in any project. */
  slotsOfUsername(username: string): number[] {
    return this.byUsername.slotsOf(usernameHash(username)).filter((slot) => this.stringAt(slot, USERNAME) === username);
  }

  /** The credential in `slot`, decoded. */
  read(slot: number): SnapshotCredential {
    const keys = this.keysAt(slot);
    const { k: apiKeys, ...rest } = JSON.parse(this.stringAt(slot, API_KEYS + keys.apiKeyHashes.length)) as StoredBody;
    return {
      ...emptyDefaults(),
      ...rest,
      id: keys.id,
      projectId: keys.projectId,
      username: keys.username,
      apiKeys: apiKeys.map((k, i) => ({ ...k, hash: keys.apiKeyHashes[i] })),
    };
  }

  keysAt(slot: number): CredentialKeys {
    const count = this.slabs.buffer(slot).readUInt32LE(this.slabs.start(slot));
    const apiKeyHashes: string[] = [];
    for (let i = 0; i < count; i++) apiKeyHashes.push(this.stringAt(slot, API_KEYS + i));
    return { id: this.stringAt(slot, ID), projectId: this.stringAt(slot, PROJECT_ID), username: this.stringAt(slot, USERNAME), apiKeyHashes };
  }

  private readonly hasId = (slot: number, id: string): boolean => this.equalsAt(slot, ID, id);

  private readonly holdsApiKey = (slot: number, hash: string): boolean => {
    const count = this.slabs.buffer(slot).readUInt32LE(this.slabs.start(slot));
    for (let i = 0; i < count; i++) if (this.equalsAt(slot, API_KEYS + i, hash)) return true;
    return false;
  };

  private readonly holdsName = (slot: number, [projectId, username]: readonly [string, string]): boolean =>
    this.equalsAt(slot, USERNAME, username) && this.equalsAt(slot, PROJECT_ID, projectId);

  /** Byte position and length of string number `field` of the record. */
  private locate(slot: number, field: number): [buffer: Buffer, start: number, length: number] {
    const buffer = this.slabs.buffer(slot);
    let offset = this.slabs.start(slot) + 4;
    for (let i = 0; i < field; i++) offset += 4 + buffer.readUInt32LE(offset);
    return [buffer, offset + 4, buffer.readUInt32LE(offset)];
  }

  private stringAt(slot: number, field: number): string {
    const [buffer, start, length] = this.locate(slot, field);
    return buffer.toString('utf8', start, start + length);
  }

  /** Compares without decoding when the value is ASCII (ids, key hashes, most usernames). */
  private equalsAt(slot: number, field: number, value: string): boolean {
    const [buffer, start, length] = this.locate(slot, field);
    if (length !== value.length) return buffer.toString('utf8', start, start + length) === value;
    for (let i = 0; i < length; i++) {
      const c = value.charCodeAt(i);
      // A non-ASCII character takes more than one byte: the UTF-8 lengths differ, so do the strings.
      if (c > 0x7f || buffer[start + i] !== c) return false;
    }
    return true;
  }
}

const ID = 0;
const PROJECT_ID = 1;
const USERNAME = 2;
const API_KEYS = 3;

// One seed per index, so equal strings of different kinds do not share probe sequences.
const idHash = (id: string) => mixHash(hashString(id, 0x811c9dc5));
const apiKeyHash = (hash: string) => mixHash(hashString(hash, 0x2f1b3a61));
const usernameHash = (username: string) => mixHash(hashString(username, 0x5bd1e995));
// NUL cannot occur in either part, so the pair is unambiguous.
const projectUsernameHash = (projectId: string, username: string) => mixHash(hashString(username, Math.imul(hashString(projectId, 0x27d4eb2f), 0x01000193)));

type StoredBody = Omit<SnapshotCredential, 'id' | 'projectId' | 'username' | 'apiKeys'> & { k: Omit<SnapshotCredential['apiKeys'][number], 'hash'>[] };

/** The fields a body may leave out, with the value that means. A new snapshot field with an empty default belongs here (the round-trip spec fails until it is). */
const emptyDefaults = (): Pick<SnapshotCredential, 'passwordHash' | 'expiresAt' | 'roles' | 'metadata' | 'access' | 'tokenSettings' | 'digestHa1' | 'truststore' | 'endUser'> => ({
  passwordHash: null,
  expiresAt: null,
  roles: [],
  metadata: [],
  access: {},
  tokenSettings: null,
  digestHa1: null,
  truststore: [],
  endUser: null,
});

/** u32 byte length + UTF-8 of `s` at `offset`; the offset after it. */
function writeString(buffer: Buffer, offset: number, s: string): number {
  const written = buffer.write(s, offset + 4);
  buffer.writeUInt32LE(written, offset);
  return offset + 4 + written;
}

/** Fields of the body a record never holds (they are strings of their own in the record). */
const KEY_FIELDS = new Set(['id', 'projectId', 'username', 'apiKeys']);

function bodyOf(c: SnapshotCredential): string {
  const body: Record<string, unknown> = { k: c.apiKeys.map(({ hash: _hash, ...key }) => key) };
  // for-in rather than a rest copy + Object.entries: no copy of the credential, no array of pairs.
  for (const name in c) {
    if (KEY_FIELDS.has(name)) continue;
    const value = (c as unknown as Record<string, unknown>)[name];
    if (!isEmpty(value)) body[name] = value;
  }
  return JSON.stringify(body);
}

function isEmpty(value: unknown): boolean {
  if (value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value !== 'object') return false;
  for (const _ in value) return false;
  return true;
}
