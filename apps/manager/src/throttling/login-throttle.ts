import { Injectable } from '@nestjs/common';
import { CountedLimit } from './counted-limit';

const TOO_MANY = { code: 'too_many_login_attempts', title: 'Too many failed logins' };

/**
 * Slows password guessing at operator login. Failures are counted per username and client
 * address (10 per 15 minutes), so an attacker cannot lock the real operator out from elsewhere,
 * and per address across usernames (100 per 15 minutes), so spraying many usernames from one
 * place stops too. The address window is short on purpose: operators behind one NAT or proxy
 * share an address, and a day-long block of it would let one guesser lock the real admin out
 * for a day; a system admin can also lift a lockout at once (`unlock`, DELETE
 * /api/v1/auth/lockouts). Every attempt reserves its count before the password is checked, so
 * a refused guess learns nothing and concurrent guesses cannot all slip past the limit; a success gives the
 * address' point back and clears its pair's count.
 */
@Injectable()
export class LoginThrottle {
  private readonly perUserAndAddress = new CountedLimit('login-user-address', 10, 15 * 60, TOO_MANY);
  private readonly perAddress = new CountedLimit('login-address', 100, 15 * 60, TOO_MANY);

  /**
   * Runs `verify` (the password check; its result, undefined when the login failed) unless the
   * pair or the address must wait (429). What `verify` throws (e.g. 503 while password checks are saturated) is not a failed guess: the
   * reservation is refunded and the error passes through.
   */
  async attempt<T>(username: string, address: string, verify: () => Promise<T | undefined>): Promise<T | undefined> {
    const pair = pairKey(username, address);
    const reservation = await CountedLimit.reserve([this.perUserAndAddress, pair], [this.perAddress, address]);
    let verified: T | undefined;
    try {
      verified = await verify();
    } catch (err) {
      await reservation.refund();
      throw err;
    }
    if (verified !== undefined) await Promise.all([this.perUserAndAddress.clear(pair), this.perAddress.rewardOne(address)]);
    return verified;
  }

  /** Lifts the address' lockout and, given a username, that username's at the address. */
  async unlock(address: string, username?: string): Promise<void> {
    await Promise.all([this.perAddress.clear(address), username === undefined ? undefined : this.perUserAndAddress.clear(pairKey(username, address))]);
  }
}

const pairKey = (username: string, address: string) => `${username.toLowerCase()}\u0000${address}`;
