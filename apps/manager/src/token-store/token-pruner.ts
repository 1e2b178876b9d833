import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { OAuthTokenRepository } from '../repositories/oauth-token.repository';
import { familySubject, tokenSubject } from './revocation-subject';

const PRUNE_EVERY_MS = 60 * 60 * 1000;
const SUBJECT_PREFIXES = { token: tokenSubject(''), family: familySubject('') };
/**
 * How long a revocation outlives the last live copy it covers. Its copy's job may still be on its
 * way (jobs run concurrently and retry), and a copy is written at most seconds after its
 * revocation once the Manager processes the backlog; a day is far beyond that.
 */
export const REVOCATION_GRACE_MS = 24 * 60 * 60 * 1000;

/**
 * Keeps the durable token tables from growing forever: expired copies answer no lookup, so they
 * go; a revocation goes once it is older than the grace and no copy it covers is still live.
 * Runs at boot and hourly (one Manager per installation, like publication).
 */
@Injectable()
export class TokenPruner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('TokenPruner');
  private timer?: NodeJS.Timeout;

  constructor(private readonly tokens: OAuthTokenRepository) {}

  onApplicationBootstrap(): void {
    const run = () => void this.prune().catch((err: Error) => this.logger.warn(`token prune failed: ${err.message}`));
    run();
    this.timer = setInterval(run, PRUNE_EVERY_MS).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async prune(now = new Date()): Promise<{ copies: number; revocations: number }> {
    const copies = await this.tokens.deleteExpiredCopies(now);
    // A copy is live while it has no expiry or expires after `now`; expired ones are gone by now.
    const revocations = await this.tokens.deleteUncoveringRevocations(new Date(now.getTime() - REVOCATION_GRACE_MS), SUBJECT_PREFIXES);
    if (copies + revocations > 0) this.logger.log(`pruned ${copies} expired token copies and ${revocations} revocations`);
    return { copies, revocations };
  }
}
