import { randomBytes } from 'node:crypto';
import { parseMasterKeys, SecretBox } from './secret-box';

const key = (id: string) => ({ id, key: randomBytes(32) });

describe('SecretBox', () => {
  it('round-trips and never contains the plaintext', () => {
    const box = new SecretBox([key('k1')]);
    const sealed = box.seal('s3cret value');
    expect(sealed).toMatch(/^enc:v1:k1:/);
    expect(sealed).not.toContain('s3cret');
    expect(box.open(sealed)).toBe('s3cret value');
    expect(box.seal('same')).not.toBe(box.seal('same'));
  });

  it('detects tampering', () => {
    const box = new SecretBox([key('k1')]);
    const sealed = box.seal('value');
    // Flip one bit of the ciphertext and one of the tag, on the bytes (editing a base64
    // character could write back the character that was there).
    const parts = sealed.split(':');
    const body = Buffer.from(parts[4], 'base64url');
    for (const at of [0, body.length - 1]) {
      const tampered = Buffer.from(body);
      tampered[at] ^= 0x01;
      expect(() => box.open([...parts.slice(0, 4), tampered.toString('base64url')].join(':'))).toThrow();
    }
    expect(box.open(sealed)).toBe('value');
  });

  it('rotates: a new active key decrypts old values and reseals them', () => {
    const old = key('k1');
    const sealedOld = new SecretBox([old]).seal('value');
    const rotated = new SecretBox([key('k2'), old]);
    expect(rotated.open(sealedOld)).toBe('value');
    const resealed = rotated.reseal(sealedOld);
    expect(SecretBox.keyIdOf(resealed)).toBe('k2');
    expect(rotated.reseal(resealed)).toBe(resealed);
    expect(() => new SecretBox([key('k3')]).open(resealed)).toThrow(/unknown master key 'k2'/);
  });

  it('parses master keys from the environment format and rejects bad ones', () => {
    const b64 = randomBytes(32).toString('base64');
    expect(parseMasterKeys(`a:${b64},b:${b64}`).map((k) => k.id)).toEqual(['a', 'b']);
    expect(() => parseMasterKeys('nokey')).toThrow();
    expect(() => parseMasterKeys(`a:${randomBytes(16).toString('base64')}`)).toThrow(/32 bytes/);
  });
});
