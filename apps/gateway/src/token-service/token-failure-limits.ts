import type { IncomingHttpHeaders } from 'node:http';
import { OAuthError } from '@idm/tokens';
import type { GatewayConfig } from '../config/gateway-config';
import { attemptedCredential, type BruteForceGuard, type BlockVerdict } from '../brute-force/brute-force-guard';
import { ClientIpResolver, peerOrForwardedIp } from '../http/client-ip';
import type { TokenServiceOptions } from './token-endpoints';

/** Who is guessing what: the presented client id, the resource owner (password grant) and the caller's address. */
export interface FailureSubject {
  surface: string;
  clientId: string;
  /** Set for a password grant: its resource owner's username. */
  username?: string;
  address: string;
}

/**
 * The token endpoints' side of the brute-force guard: wrong client secrets count against the
 * client id (`<surface>:client:<id>`), wrong resource-owner passwords against that owner of that
 * client, both also per address and per credential at the address. `check` runs on every token
 * call before any secret is verified (argon2 is the expensive part) and costs no Redis round
 * trip; a blocked call gets 429 `slow_down` with Retry-After, whatever its secret.
 */
export class TokenFailureLimits {
  constructor(private readonly guard: BruteForceGuard) {}

  /** Throws 429 `slow_down` with Retry-After while the client, the owner or the address must wait. In memory only. */
  check(subject: FailureSubject): void {
    const verdicts = [this.guard.blocked(clientOf(subject), subject.address)];
    if (subject.username !== undefined) verdicts.push(this.guard.blocked(ownerOf(subject, subject.username), subject.address));
    const seconds = Math.max(0, ...verdicts.map((v: BlockVerdict | null) => v?.retryAfterSeconds ?? 0));
    if (seconds > 0) throw new OAuthError('slow_down', `too many failed attempts, try again in ${seconds} seconds`, 429, seconds);
  }

  clientFailed(subject: FailureSubject): Promise<void> {
    return this.guard.failed({ credential: clientOf(subject), address: subject.address, source: subject.surface });
  }

  ownerFailed(subject: FailureSubject): Promise<void> {
    if (subject.username === undefined) return Promise.resolve();
    return this.guard.failed({ credential: ownerOf(subject, subject.username), address: subject.address, source: subject.surface });
  }
}

const clientOf = (s: FailureSubject) => attemptedCredential(`${s.surface}:client:${s.clientId}`, `client:${s.clientId}`, null);
const ownerOf = (s: FailureSubject, username: string) => attemptedCredential(`${s.surface}:owner:${s.clientId}\u0000${username}`, `owner:${s.clientId}:${username}`, null);

/**
 * The token service's failure limits, with the caller's address read the way the proxy path
 * reads it: a forwarded-for header only from a trusted hop, so a client cannot pick a fresh
 * address per guess.
 */
export class ConfiguredFailureLimits implements NonNullable<TokenServiceOptions['failures']> {
  readonly limits: TokenFailureLimits;
  readonly addressOf: (peer: string, headers: IncomingHttpHeaders) => string;

  constructor(config: GatewayConfig, guard: BruteForceGuard) {
    this.limits = new TokenFailureLimits(guard);
    const resolver = config.clientIp.header === null ? null : new ClientIpResolver(config.clientIp);
    this.addressOf = (peer, headers) => (resolver === null ? peerOrForwardedIp(peer, headers, config.trustProxy) : resolver.resolve(peer, headers));
  }
}
