import { createHash } from 'node:crypto';
import { detectorSubjects, type BruteForceDetector, type BruteForceSettings, type BruteForceStore, type DetectorSubject, type FailedAttempt } from '@idm/config-bus';
import type { RejectionCode } from '@idm/policies';
import type { Logger } from 'pino';
import type { BlockAlerts } from './block-alerts';
import type { BlockMirror } from './block-mirror';

/** Why a request is refused before its credential is checked (reason codes of the proxy path; the token endpoints answer `slow_down`). */
export const BLOCK_CODES = {
  credential: 'credential_locked',
  address: 'address_blocked',
  'credential-address': 'credential_address_locked',
} as const satisfies Record<BruteForceDetector, RejectionCode>;
export type BlockCode = (typeof BLOCK_CODES)[BruteForceDetector];

export interface BlockVerdict {
  code: BlockCode;
  /** Whole seconds until the longest matching block ends (Retry-After). */
  retryAfterSeconds: number;
}

/**
 * The detectors that count a failure: a project's settings (set in the Manager) for its
 * credentials, the environment's (`settingsFor(null)`, BRUTE_FORCE_*) for everything else.
 */
export interface DetectorSettings {
  settingsFor(projectId: string | null): BruteForceSettings;
}

/** The environment's detectors for every credential (no project settings). */
export const environmentDetectors = (settings: BruteForceSettings): DetectorSettings => ({ settingsFor: () => settings });

/** The credential a request tried, as the detectors count it. */
export type AttemptedCredential = FailedAttempt['credential'];

/**
 * Brute-force and credential-stuffing protection of one Gateway: `blocked` answers from the
 * mirrored block list (no Redis round trip, so every Gateway enforces a block the moment its
 * message arrives), `failed` counts a failure in Redis, where one script per failure decides the
 * blocks for the whole fleet. A success is never counted and never clears a count or a block:
 * otherwise the real user's traffic would keep resetting an attacker's budget.
 */
export class BruteForceGuard {
  private reported = 0;

  constructor(
    private readonly store: BruteForceStore,
    private readonly mirror: BlockMirror,
    private readonly settings: DetectorSettings,
    private readonly alerts: BlockAlerts,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  get mirrored(): BlockMirror {
    return this.mirror;
  }

  /** True while no block is mirrored: nothing to check (the common case costs one comparison). */
  get idle(): boolean {
    return this.mirror.size === 0;
  }

  /** The block that refuses this attempt now (the longest of those that match), or null. In memory only. */
  blocked(credential: AttemptedCredential, address: string): BlockVerdict | null {
    if (this.mirror.size === 0) return null;
    let longest = 0;
    let code: BlockCode | null = null;
    for (const subject of this.subjects(credential, address)) {
      const until = this.mirror.until(subject.key);
      if (until > longest) {
        longest = until;
        code = BLOCK_CODES[subject.detector];
      }
    }
    return code === null ? null : { code, retryAfterSeconds: Math.max(1, Math.ceil((longest - this.clock()) / 1000)) };
  }

  private subjects(credential: AttemptedCredential, address: string): DetectorSubject[] {
    const environment = this.settings.settingsFor(null);
    const project = this.settings.settingsFor(credential?.projectId ?? null);
    if (project === environment) return detectorSubjects({ credential, address }, environment);
    return [...detectorSubjects({ credential, address }, { ...project, perAddress: 0 }), ...detectorSubjects({ credential: null, address }, environment)];
  }

  /** Counts a failure for the whole fleet; blocks it starts apply here at once and are alerted. Never rejects. */
  async failed(attempt: FailedAttempt): Promise<void> {
    try {
      const environment = this.settings.settingsFor(null);
      const project = this.settings.settingsFor(attempt.credential?.projectId ?? null);
      const blocks =
        project === environment
          ? await this.store.recordFailure(attempt, environment, this.clock())
          : // The credential counted with its project's detectors, the address with the environment's (an address tries every project).
            [
              ...(await this.store.recordFailure(attempt, { ...project, perAddress: 0 }, this.clock())),
              ...(await this.store.recordFailure({ ...attempt, credential: null }, environment, this.clock())),
            ];
      for (const block of blocks) {
        this.mirror.remember(block);
        this.log.warn({ blockId: block.id, detector: block.detector, source: block.source, strike: block.strike, until: new Date(block.until).toISOString() }, 'brute-force block');
        this.alerts.send(block);
      }
    } catch (err) {
      // Redis away: the failure goes uncounted (fail open, as the rate limits' default); said once a minute.
      if (Date.now() - this.reported < 60_000) return;
      this.reported = Date.now();
      this.log.warn({ err: { message: (err as Error)?.message } }, 'authentication failure could not be counted (brute-force store unavailable)');
    }
  }
}

/**
 * A credential as the detectors name it: `key` counts (exact, hashed when long: it comes from
 * the caller), `label` is what admins see (cut short).
 */
export function attemptedCredential(key: string, label: string, projectId: string | null): NonNullable<AttemptedCredential> {
  return {
    key: key.length <= 256 ? key : `sha256:${createHash('sha256').update(key).digest('base64url')}`,
    label: label.length <= 128 ? label : `${label.slice(0, 127)}…`,
    projectId,
  };
}
