import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM envelope for secrets stored reversibly (credential secret metadata, later private
 * keys and client secrets). Format: `enc:v1:<keyId>:<iv>:<ciphertext+tag>` (base64url parts).
 * The key id lets several master keys coexist while `rotate-master-key` re-encrypts old values.
 */
export class SecretBox {
  private readonly keys: Map<string, Buffer>;

  /** `keys` in priority order: the first encrypts, all decrypt. */
  constructor(keys: { id: string; key: Buffer }[]) {
    if (keys.length === 0) throw new Error('SecretBox needs at least one master key');
    for (const k of keys) if (k.key.length !== 32) throw new Error(`master key '${k.id}' must be 32 bytes`);
    this.keys = new Map(keys.map((k) => [k.id, k.key]));
    this.activeKeyId = keys[0].id;
  }

  readonly activeKeyId: string;

  static isSealed(value: unknown): value is string {
    return typeof value === 'string' && value.startsWith('enc:v1:');
  }

  static keyIdOf(sealed: string): string {
    return sealed.split(':')[2];
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.activeKeyId)!, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `enc:v1:${this.activeKeyId}:${iv.toString('base64url')}:${body.toString('base64url')}`;
  }

  open(sealed: string): string {
    const [prefix, version, keyId, iv, body] = sealed.split(':');
    if (prefix !== 'enc' || version !== 'v1' || !iv || !body) throw new Error('not a sealed secret');
    const key = this.keys.get(keyId);
    if (!key) throw new Error(`sealed with unknown master key '${keyId}'`);
    const data = Buffer.from(body, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(data.subarray(data.length - 16));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8');
  }

  /** Re-seals under the active key when sealed under another; returns the input when already current. */
  reseal(sealed: string): string {
    return SecretBox.keyIdOf(sealed) === this.activeKeyId ? sealed : this.seal(this.open(sealed));
  }
}

/** Parses `IDM_MASTER_KEYS` = `id:base64key[,id:base64key...]` (first encrypts). */
export function parseMasterKeys(value: string): { id: string; key: Buffer }[] {
  return value.split(',').map((entry) => {
    const [id, b64] = entry.trim().split(':');
    if (!id || !/^[A-Za-z0-9_-]{1,32}$/.test(id) || !b64) throw new Error('each master key must be written as id:base64key');
    const key = Buffer.from(b64, 'base64');
    if (key.length !== 32) throw new Error(`master key '${id}' must decode to 32 bytes (got ${key.length})`);
    return { id, key };
  });
}
