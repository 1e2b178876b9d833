import { UNINTERNED_PAD as PAD } from './config-changed.wire';
import { snapshotCredentialSchema, type SnapshotCredential } from './snapshot.schema';

/**
 * A stored credential's JSON as a `SnapshotCredential`: exactly what
 * `snapshotCredentialSchema.parse(JSON.parse(json))` returns, without zod's copy of every
 * object and array when the JSON already has the schema's plain shape (every field present, no
 * unknown one, no rules, token settings, metadata or end-user profile) — which is what the
 * Manager writes for nearly every credential. A full load parses a million of them: zod's
 * copies were ~1.7 KB of garbage per credential, a third of the load's allocation, and what made
 * the scavenges promote the HSCAN replies (issue #13, bench/README.md "full-load garbage").
 * Anything else (a missing default, an unknown field, a wrong type, a field the check does not
 * cover) goes through zod, which fills defaults, strips and refuses as before.
 */
export function parseStoredCredential(json: string): SnapshotCredential {
  const value: unknown = parseWithoutInternalizing(json);
  return hasPlainShape(value) ? value : snapshotCredentialSchema.parse(value);
}

/**
 * Where the Manager writes the username (environment-entities.ts: id, projectId, username
 * first); anywhere else a `"username":"` could be a nested object's key.
 */
const USERNAME_VALUE_AT = /^\{"id":"[^"\\]*","projectId":"[^"\\]*","username":"/;

/**
 * `JSON.parse(json)`, the username not internalized. V8 internalizes every string value of 10
 * characters or fewer that JSON.parse makes, and usernames mostly are that short: a million of
 * them, each unique, grew the string table until the next full GC, and each growth rehashed the
 * whole table in one step: 30-90 ms turns of a full load at a million credentials, profiled in
 * parseStoredCredential (issue #13, bench/README.md). Parsed padded past that length, the value
 * is an ordinary string; cutting the padding off makes another one.
 */
function parseWithoutInternalizing(json: string): unknown {
  const head = USERNAME_VALUE_AT.exec(json);
  if (head === null) return JSON.parse(json);
  const at = head[0].length;
  const value = JSON.parse(`${json.slice(0, at)}${PAD}${json.slice(at)}`) as { username: string };
  value.username = value.username.slice(PAD.length);
  return value;
}

const FIELDS = 14;

function hasPlainShape(v: unknown): v is SnapshotCredential {
  if (!isObject(v)) return false;
  const c = v as Record<string, unknown>;
  let fields = 0;
  // Only own enumerable string keys (JSON.parse makes nothing else); each must be one of ours.
  for (const name in c) {
    if (!PLAIN_FIELDS.has(name)) return false;
    fields++;
  }
  return (
    fields === FIELDS &&
    typeof c.id === 'string' &&
    typeof c.projectId === 'string' &&
    typeof c.username === 'string' &&
    stringOrNull(c.passwordHash) &&
    typeof c.enabled === 'boolean' &&
    stringOrNull(c.expiresAt) &&
    Array.isArray(c.apiKeys) &&
    c.apiKeys.every(isPlainApiKey) &&
    isStringArray(c.roles) &&
    Array.isArray(c.metadata) &&
    c.metadata.length === 0 &&
    isObject(c.access) &&
    isEmptyObject(c.access) &&
    c.tokenSettings === null &&
    stringOrNull(c.digestHa1) &&
    isStringArray(c.truststore) &&
    c.endUser === null
  );
}

const PLAIN_FIELDS = new Set([
  'id',
  'projectId',
  'username',
  'passwordHash',
  'enabled',
  'expiresAt',
  'apiKeys',
  'roles',
  'metadata',
  'access',
  'tokenSettings',
  'digestHa1',
  'truststore',
  'endUser',
]);

function isPlainApiKey(k: unknown): boolean {
  if (!isObject(k)) return false;
  const key = k as Record<string, unknown>;
  let fields = 0;
  for (const name in key) {
    if (name !== 'id' && name !== 'prefix' && name !== 'hash' && name !== 'expiresAt') return false;
    fields++;
  }
  return fields === 4 && typeof key.id === 'string' && typeof key.prefix === 'string' && typeof key.hash === 'string' && stringOrNull(key.expiresAt);
}

const isObject = (v: unknown): v is object => typeof v === 'object' && v !== null && !Array.isArray(v);
const stringOrNull = (v: unknown): boolean => v === null || typeof v === 'string';
function isStringArray(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (const s of v) if (typeof s !== 'string') return false;
  return true;
}

function isEmptyObject(o: object): boolean {
  for (const _ in o) return false;
  return true;
}
