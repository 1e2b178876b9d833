import type { Credential, MetadataEntry, SecretBox } from '@idm/domain';
import type { StoredMetadataEntry } from '../repositories/credential.repository';
import { ProblemError } from '../problems/problem.error';

/**
 * Turns metadata from a request into what is stored: secret values sealed with the master key;
 * a secret entry sent without a value keeps the value it had (secrets are write-only).
 */
export function sealMetadata(box: SecretBox, entries: MetadataEntry[], existing: StoredMetadataEntry[] = []): StoredMetadataEntry[] {
  return entries.map((entry, i) => {
    const { value, ...flags } = entry;
    if (value !== undefined) return { ...flags, value: entry.secret ? box.seal(value) : value };
    const previous = existing.find((e) => e.key === entry.key && e.secret);
    if (entry.secret && previous) return { ...flags, value: previous.value };
    throw ProblemError.validation([{ path: `metadata.${i}.value`, message: entry.secret ? 'a new secret entry needs a value' : 'required' }]);
  });
}

/** What responses show: secret entries without their value. */
export function publicMetadata(stored: StoredMetadataEntry[]): Credential['metadata'] {
  return stored.map(({ value, ...flags }) => (flags.secret ? flags : { ...flags, value }));
}
