import {
  ChannelMirror,
  PROJECT_BRUTE_FORCE_SETTINGS_CHANNEL,
  ProjectBruteForceSettingsStore,
  projectBruteForceSettingsEventSchema,
  withProjectOverrides,
  type BruteForceSettings,
} from '@idm/config-bus';
import type { ProjectBruteForceSettings } from '@idm/domain';
import type Redis from 'ioredis';

/**
 * This Gateway's copy of the projects' brute-force settings (set in the Manager), applied
 * without a restart: a change arrives on its channel; on every (re)subscription, and when the
 * Manager says it rewrote them all, the whole list is read again. A project without settings,
 * or every project while the list was never read, counts with the environment's detectors.
 */
export class ProjectSettingsMirror {
  private overrides = new Map<string, BruteForceSettings>();
  private readonly store: ProjectBruteForceSettingsStore;
  private readonly subscription: ChannelMirror;
  /** Messages applied so far: a load that raced one reads again rather than put back what it replaced. */
  private applied = 0;

  /** `subscriber` is a connection of its own, shared with the block mirror; neither is closed here. */
  constructor(
    redis: Redis,
    subscriber: Redis,
    private readonly defaults: BruteForceSettings,
    private readonly onError: (err: unknown) => void,
  ) {
    this.store = new ProjectBruteForceSettingsStore(redis);
    this.subscription = new ChannelMirror(subscriber, PROJECT_BRUTE_FORCE_SETTINGS_CHANNEL, { load: () => this.load(), apply: (message) => this.onMessage(message), onError });
  }

  /** The detectors for failures against a credential of `projectId`: its settings, or the environment's. */
  settingsFor(projectId: string | null): BruteForceSettings {
    if (projectId === null || this.overrides.size === 0) return this.defaults;
    return this.overrides.get(projectId) ?? this.defaults;
  }

  get environmentDefaults(): BruteForceSettings {
    return this.defaults;
  }

  start(): void {
    this.subscription.start();
  }

  stop(): void {
    this.subscription.stop();
  }

  async load(): Promise<void> {
    let all: Map<string, ProjectBruteForceSettings>;
    let seen: number;
    do {
      seen = this.applied;
      all = await this.store.all();
    } while (seen !== this.applied);
    this.overrides = new Map([...all].map(([projectId, settings]) => [projectId, withProjectOverrides(this.defaults, settings)]));
  }

  private apply(projectId: string, settings: ProjectBruteForceSettings | null): void {
    this.applied++;
    if (settings === null) this.overrides.delete(projectId);
    else this.overrides.set(projectId, withProjectOverrides(this.defaults, settings));
  }

  private onMessage(message: string): void {
    let json: unknown = null;
    try {
      json = JSON.parse(message);
    } catch {
      // reported below
    }
    const parsed = projectBruteForceSettingsEventSchema.safeParse(json);
    if (!parsed.success) return this.onError(new Error(`malformed message on ${PROJECT_BRUTE_FORCE_SETTINGS_CHANNEL} ignored`));
    if ('reload' in parsed.data) return this.subscription.resync();
    this.apply(parsed.data.project.projectId, parsed.data.project.settings);
  }
}
