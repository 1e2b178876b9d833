import { Injectable } from '@nestjs/common';
import * as argon2 from 'argon2';
import { PasswordWorkLimiter } from './password-work-limiter';

/**
 * argon2id with the library's defaults (m=64 MiB, t=3, p=4), the OWASP-recommended family. Every
 * hash and verification waits for a PasswordWorkLimiter slot (503 when too many are waiting).
 */
@Injectable()
export class PasswordHasher {
  constructor(private readonly limiter: PasswordWorkLimiter) {}

  hash(password: string): Promise<string> {
    return this.limiter.run(() => argon2.hash(password, { type: argon2.argon2id }));
  }

  verify(hash: string, password: string): Promise<boolean> {
    return this.limiter.run(async () => {
      try {
        return await argon2.verify(hash, password);
      } catch {
        return false;
      }
    });
  }
}
