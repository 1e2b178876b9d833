import type { SnapshotCredential } from '@idm/config-bus';
import type { SecretOpener } from '@idm/tokens';

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
