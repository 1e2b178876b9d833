import { isIP } from 'node:net';
import type { ForwardedFor } from '@idm/policies';

/**
 * The client address recorded with a token: the socket peer, or an entry of the configured
 * forwarded-for header (FIRST: leftmost, the original client; LAST: rightmost, the nearest hop).
 * It is a record of who asked, not an access decision, so no trusted-hop walk applies; an entry
 * that is not an IP address falls back to the peer.
 */
export function tokenClientIp(forwardedFor: ForwardedFor, headers: Record<string, string | string[] | undefined>, peer: string | undefined): string | undefined {
  const raw = forwardedFor.header === null ? undefined : headers[forwardedFor.header];
  const value = Array.isArray(raw) ? raw.join(',') : raw;
  if (value) {
    const entries = value
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean);
    const picked = forwardedFor.order === 'FIRST' ? entries[0] : entries[entries.length - 1];
    const address = picked?.startsWith('[') ? picked.slice(1, picked.indexOf(']')) : picked;
    if (address && isIP(address)) return address;
  }
  return peer?.startsWith('::ffff:') && isIP(peer.slice(7)) === 4 ? peer.slice(7) : peer;
}
