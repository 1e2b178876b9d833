import { hash, randomBytes } from 'node:crypto';

/**
 * API key format: "idm_" + 8-char public prefix + "_" + 32-char secret (base64url).
 * The prefix is stored in clear for lookup/display; the whole key only as SHA-256.
 * SHA-256 (not argon2) is right here: keys are 192-bit random, so brute force is hopeless and
 * the Gateway must hash on every request.
 */
export const API_KEY_PREFIX_LENGTH = 12; // "idm_" + 8

export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const prefix = 'idm_' + randomBytes(6).toString('base64url');
  const key = `${prefix}_${randomBytes(24).toString('base64url')}`;
  return { key, prefix, hash: hashApiKey(key) };
}

/** One-shot `crypto.hash`: a third of createHash's cost, and this runs on every request. */
export function hashApiKey(key: string): string {
  return hash('sha256', key, 'hex');
}

/**
 * The visible prefix of a presented key, for records and logs: only when the value has our
 * format (prefix, "_", secret), so a foreign or garbled key is never partly disclosed.
 */
export function visibleApiKeyPrefix(presented: string): string | null {
  return presented.length > API_KEY_PREFIX_LENGTH + 1 && presented.startsWith('idm_') && presented.charCodeAt(API_KEY_PREFIX_LENGTH) === 95 /* _ */
    ? presented.slice(0, API_KEY_PREFIX_LENGTH)
    : null;
}
