import { VERIFIED_EMAIL_PROJECTS_KEY } from '@idm/config-bus';
import type Redis from 'ioredis';
import type { TokenClient } from '../serving/token-clients';

/** How long a read of the projects' switches is trusted: a change reaches every Gateway within this. */
const FRESH_MS = 2_000;

/**
 * The per-project "require a verified email to sign in" switch as the login page and the password
 * grants apply it. The Manager keeps the Redis set of projects that have it on
 * (`VERIFIED_EMAIL_PROJECTS_KEY`); it is read only for an end user whose email is not verified, at
 * most every couple of seconds (concurrent checks share one read). A read that fails rejects:
 * the caller answers "unavailable", never lets an unverified user in on a guess.
 */
export class VerifiedEmailRequirement {
  private projects: Set<string> | null = null;
  private readAt = 0;
  private reading: Promise<Set<string>> | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Whether `user` may not sign in yet: an end user whose email is not verified, of a project that requires one. */
  async refuses(user: TokenClient): Promise<boolean> {
    const profile = user.credential.endUser;
    if (profile === null || profile.emailVerified) return false;
    return (await this.current()).has(user.credential.projectId);
  }

  private current(): Promise<Set<string>> {
    if (this.projects !== null && this.clock() - this.readAt < FRESH_MS) return Promise.resolve(this.projects);
    this.reading ??= this.redis
      .smembers(VERIFIED_EMAIL_PROJECTS_KEY)
      .then((members) => {
        this.projects = new Set(members);
        this.readAt = this.clock();
        return this.projects;
      })
      .finally(() => (this.reading = null));
    return this.reading;
  }
}
