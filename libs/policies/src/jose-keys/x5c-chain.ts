import { X509Certificate, type KeyObject } from 'node:crypto';

/**
 * The key of a JWS `x5c` chain, accepted only when the chain is sound and ends at one of the trust
 * store's CAs: every certificate signed by the next, the last by a CA of the store (or one of
 * them), all within their validity at `now`. null when it is not.
 */
export function trustedX5cKey(x5c: unknown, trustStore: readonly X509Certificate[], now: number): KeyObject | null {
  if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > 10 || !x5c.every((c) => typeof c === 'string')) return null;
  let chain: X509Certificate[];
  try {
    chain = x5c.map((der: string) => new X509Certificate(Buffer.from(der, 'base64')));
  } catch {
    return null;
  }
  const valid = (c: X509Certificate) => Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo);
  if (!chain.every(valid)) return null;
  for (let i = 0; i + 1 < chain.length; i++) if (!chain[i].checkIssued(chain[i + 1]) || !chain[i].verify(chain[i + 1].publicKey)) return null;
  const last = chain[chain.length - 1];
  const anchored = trustStore.some((ca) => valid(ca) && (ca.fingerprint256 === last.fingerprint256 || (last.checkIssued(ca) && last.verify(ca.publicKey))));
  return anchored ? chain[0].publicKey : null;
}
