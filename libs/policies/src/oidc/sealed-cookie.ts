import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { KeyVersion } from '../jose-keys/key-versions';

/** Opened cookies and session records kept per sealer (per proxy): a few MB at most. */
const OPENED_CACHE_SIZE = 2048;

/**
 * Seals and opens the policy's cookies (session, login transaction): AES-256-GCM, the key derived
 * (HKDF) from a project secret version and the proxy id, so a cookie of one proxy is nothing on
 * another proxy sharing the secret. The cookie's name is authenticated too: a login cookie cannot
 * pass as a session. Format: `v1.<kid>.<iv|ciphertext|tag, base64url>`.
 */
export class CookieSealer {
  private readonly keys: { kid: string; retiresAt: number; key: Buffer }[];
  /**
   * What recently opened, by name and sealed text: a session's cookie and record come back on
   * every request, and deciphering and parsing them again was a good part of the policy's cost
   * (bench/README.md, issue #15). Only a text that authenticated is ever a key (a forged or
   * tampered one misses and is refused as before), and a hit still honours its key's retirement.
   * The values are shared: callers read them and never write to them. Oldest entries go first.
   */
  private readonly opened = new Map<string, { value: Record<string, unknown>; retiresAt: number }>();

  constructor(
    versions: readonly KeyVersion[],
    proxyId: string,
    private readonly now: () => number,
  ) {
    this.keys = versions.map((v) => {
      if (!(v.privateKey instanceof Uint8Array) || v.privateKey.length < 32) throw new Error('the cookie secret must be a shared secret of at least 32 bytes');
      return { kid: v.kid, retiresAt: v.retiresAt, key: Buffer.from(hkdfSync('sha256', v.privateKey, Buffer.from(proxyId, 'utf8'), 'idm oidc cookie v1', 32)) };
    });
  }

  seal(name: string, value: object): string {
    const current = this.keys[this.keys.length - 1];
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', current.key, iv);
    cipher.setAAD(Buffer.from(name, 'utf8'));
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return `v1.${current.kid}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`;
  }

  /** null: not ours, tampered, sealed with a retired or unknown key, or not JSON. */
  open(name: string, sealed: string): Record<string, unknown> | null {
    return this.openUntil(name, sealed)?.value ?? null;
  }

  /** `open`, with when the key it was sealed with retires (a caller keeping the value honours it too). */
  openUntil(name: string, sealed: string): { value: Record<string, unknown>; retiresAt: number } | null {
    const id = `${name}\n${sealed}`;
    const hit = this.opened.get(id);
    if (hit !== undefined) return hit.retiresAt > this.now() ? hit : null;
    const [version, kid, data, extra] = sealed.split('.');
    if (version !== 'v1' || data === undefined || extra !== undefined) return null;
    const now = this.now();
    const key = this.keys.find((k) => k.kid === kid && k.retiresAt > now);
    const raw = Buffer.from(data, 'base64url');
    if (key === undefined || raw.length < 12 + 16 + 2) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(name, 'utf8'));
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      const plain = Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
      const value: unknown = JSON.parse(plain);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
      if (this.opened.size >= OPENED_CACHE_SIZE) this.opened.delete(this.opened.keys().next().value!);
      const entry = { value: value as Record<string, unknown>, retiresAt: key.retiresAt };
      this.opened.set(id, entry);
      return entry;
    } catch {
      return null;
    }
  }
}

/** The value of one cookie of the request (the first of that name); undefined when absent. */
export function cookieOf(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of (Array.isArray(header) ? header.join('; ') : header).split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Cookie header without the named cookies (what goes upstream); null when nothing is left. */
export function cookiesWithout(header: string | string[] | undefined, names: readonly string[]): string | null {
  if (header === undefined) return null;
  const kept = (Array.isArray(header) ? header.join('; ') : header)
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '' && !names.includes(p.slice(0, Math.max(0, p.indexOf('='))).trim()));
  return kept.length === 0 ? null : kept.join('; ');
}

export interface CookieAttributes {
  path: string;
  secure: boolean;
  /** Seconds; 0 deletes the cookie. */
  maxAge: number;
}

/** HttpOnly and SameSite=Lax always: scripts never read it, and it still rides the OP's top-level redirect back. */
export function setCookie(name: string, value: string, a: CookieAttributes): string {
  return `${name}=${value}; Path=${a.path}; Max-Age=${a.maxAge}; HttpOnly; SameSite=Lax${a.secure ? '; Secure' : ''}`;
}
