import { Injectable } from '@nestjs/common';
import { CountedLimit } from './counted-limit';

const TOO_MANY = { code: 'too_many_login_attempts', title: 'Too many failed logins' };

/**
 * Slows password guessing at operator login. Failures are counted per username and client
 * address (10 per 15 minutes), so an attacker cannot lock the real operator out from elsewhere,
 * and per address across usernames (100 a day), so spraying many usernames from one place stops
 * too. Checked before the password is, so a refused guess learns nothing; a success clears its
 * pair's count.
 */
@Injectable()
export class LoginThrottle {
  private readonly perUserAndAddress = new CountedLimit('login-user-address', 10, 15 * 60, TOO_MANY);
  private readonly perAddress = new CountedLimit('login-address', 100, 24 * 3600, TOO_MANY);

  check(username: string, address: string): Promise<void> {
    return CountedLimit.enforce([this.perUserAndAddress, pairKey(username, address)], [this.perAddress, address]);
  }

  async failed(username: string, address: string): Promise<void> {
    await Promise.all([this.perUserAndAddress.count(pairKey(username, address)), this.perAddress.count(address)]);
  }

  succeeded(username: string, address: string): Promise<void> {
    return this.perUserAndAddress.clear(pairKey(username, address));
  }
}

const pairKey = (username: string, address: string) => `${username.toLowerCase()}\u0000${address}`;
