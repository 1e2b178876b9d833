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
  const value: unknown = JSON.parse(json);
  return hasPlainShape(value) ? value : snapshotCredentialSchema.parse(value);
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
