import { createHash } from 'node:crypto';

/**
 * The insecure master key both apps fall back to when `IDM_MASTER_KEYS` is unset: derived the
 * same way everywhere, so a development Gateway opens what a development Manager sealed. Each
 * user announces it with a loud "must change" warning.
 */
export const DEVELOPMENT_MASTER_KEY: { readonly id: string; readonly key: Buffer } = Object.freeze({
  id: 'dev',
  key: createHash('sha256').update('identity-manager insecure development master key').digest(),
});
