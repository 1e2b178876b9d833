import { createHash } from 'node:crypto';
import type { DigestAlgorithm } from './schema';

/** What the Manager seals per credential and the Gateway opens: HA1 per algorithm for one realm. */
export interface DigestHa1Record {
  realm: string;
  'SHA-256': string;
  MD5: string;
}

const nodeHash: Record<DigestAlgorithm, string> = { 'SHA-256': 'sha256', MD5: 'md5' };

export function digestHash(algorithm: DigestAlgorithm, value: string): string {
  return createHash(nodeHash[algorithm]).update(value, 'utf8').digest('hex');
}

/**
 * RFC 7616 HA1 = H(username ":" realm ":" password). Stored instead of the password so a
 * Gateway can check a Digest response without the password ever leaving the Manager; an HA1 is
 * still password-equivalent for this realm, hence sealed at rest and in the snapshot.
 */
export function computeDigestHa1(username: string, realm: string, password: string): DigestHa1Record {
  const a1 = `${username}:${realm}:${password}`;
  return { realm, 'SHA-256': digestHash('SHA-256', a1), MD5: digestHash('MD5', a1) };
}

/** Parses an opened record; null when it is not one (a corrupt value fails the login, not the request). */
export function parseDigestHa1Record(json: string): DigestHa1Record | null {
  try {
    const r = JSON.parse(json) as Partial<DigestHa1Record>;
    const hex = (v: unknown, len: number) => typeof v === 'string' && v.length === len && /^[0-9a-f]+$/.test(v);
    return typeof r.realm === 'string' && hex(r['SHA-256'], 64) && hex(r.MD5, 32) ? (r as DigestHa1Record) : null;
  } catch {
    return null;
  }
}
