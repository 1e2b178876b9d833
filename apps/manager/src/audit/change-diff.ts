import { isDeepStrictEqual } from 'node:util';

/** Fields whose values never leave the database in clear: the diff says only whether they changed. */
export const SECRET_FIELDS = new Set(['password', 'passwordHash', 'key', 'keyHash', 'secret', 'clientSecret', 'sharedSecret', 'tlsClientKey', 'privateKey', 'token', 'tokenHash']);
const IGNORED_FIELDS = new Set(['createdAt', 'updatedAt']);

export type FieldChange = { old: unknown; new: unknown } | { changed: true; secret: true };

/** Field-by-field difference of two versions of an entity (null = did not exist), secrets masked. */
export function diffEntity(
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
  secretFields: ReadonlySet<string> = SECRET_FIELDS,
): Record<string, FieldChange> {
  const diff: Record<string, FieldChange> = {};
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  for (const key of keys) {
    if (IGNORED_FIELDS.has(key)) continue;
    const oldValue = normalize(before?.[key]);
    const newValue = normalize(after?.[key]);
    if (JSON.stringify(oldValue) === JSON.stringify(newValue)) {
      // Equal once sealed secrets are masked, but a sealed secret inside changed (a rotated client secret).
      if (!isDeepStrictEqual(before?.[key] ?? null, after?.[key] ?? null)) diff[key] = { changed: true, secret: true };
      continue;
    }
    diff[key] = secretFields.has(key) ? { changed: true, secret: true } : { old: oldValue, new: newValue };
  }
  return diff;
}

/** Dates as ISO strings; sealed secrets (anywhere inside the value) as a fixed marker. */
function normalize(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string' && value.startsWith('enc:v1:')) return '[secret]';
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  return value === undefined ? null : value;
}

/**
 * True for an update whose before and after are the same apart from timestamps, compared raw (a
 * re-sealed secret differs, so a changed secret still counts): such a write changed nothing and
 * gets no audit row.
 */
export function changesNothing(before: Record<string, unknown> | null, after: Record<string, unknown> | null): boolean {
  if (!before || !after) return false;
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].every((key) => IGNORED_FIELDS.has(key) || isDeepStrictEqual(before[key] ?? null, after[key] ?? null));
}
