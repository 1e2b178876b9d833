import { createHash, pbkdf2, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { SqlPasswordFormat } from '@idm/domain';
import { verify as argon2Verify } from 'argon2';
import bcrypt from 'bcryptjs';

const pbkdf2Async = promisify(pbkdf2);
const PBKDF2_DIGESTS: Record<string, string> = { sha1: 'sha1', sha256: 'sha256', sha512: 'sha512' };

/** Equal-length-independent constant-time comparison (hashes first, so lengths never leak). */
function same(a: Buffer | string, b: Buffer | string): boolean {
  const digest = (v: Buffer | string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Does `password` match what a legacy table stores? Every format is verified with a maintained
 * implementation (argon2, bcryptjs, node:crypto); a malformed stored value is a mismatch, never
 * an error that could read as success.
 */
export async function passwordMatches(format: SqlPasswordFormat, stored: string, password: string, salt: string | null, saltPosition: 'prefix' | 'suffix'): Promise<boolean> {
  switch (format) {
    case 'argon2':
      return argon2Verify(stored, password).catch(() => false);
    case 'bcrypt':
      return /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(stored) ? bcrypt.compare(password, stored).catch(() => false) : false;
    case 'pbkdf2':
      return pbkdf2Matches(stored, password);
    case 'salted-sha256': {
      if (salt === null || !/^[0-9a-fA-F]{64}$/.test(stored)) return false;
      const computed = createHash('sha256')
        .update(saltPosition === 'prefix' ? salt + password : password + salt)
        .digest();
      return same(computed, Buffer.from(stored, 'hex'));
    }
    case 'plain':
      return same(Buffer.from(stored, 'utf8'), Buffer.from(password, 'utf8'));
  }
}

/** Django's `pbkdf2_<digest>$<iterations>$<salt>$<base64 key>`; iterations bounded so a hostile row cannot stall the Gateway. */
async function pbkdf2Matches(stored: string, password: string): Promise<boolean> {
  const m = /^pbkdf2_(sha1|sha256|sha512)\$(\d{1,7})\$([^$]{1,256})\$([A-Za-z0-9+/=]{16,256})$/.exec(stored);
  if (!m) return false;
  const [, digest, iterationsText, salt, encoded] = m;
  const iterations = Number(iterationsText);
  if (iterations < 1 || iterations > 2_000_000) return false;
  const expected = Buffer.from(encoded!, 'base64');
  const computed = await pbkdf2Async(password, salt!, iterations, expected.length, PBKDF2_DIGESTS[digest!]!);
  return same(computed, expected);
}
