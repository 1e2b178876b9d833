import {
  configChangedMessageSchema,
  decodeConfigChanged,
  EnvironmentConfigStore,
  UnsupportedSnapshotVersionError,
  type ConfigChangedMessage,
  type ConfigHead,
} from '@idm/config-bus';
import type Redis from 'ioredis';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { GatewayMetrics } from '../metrics/gateway-metrics';
import type { ActiveConfiguration } from '../serving/active-configuration';
import { nextTurn } from '../serving/paced-steps';
import type { ServingRevision } from '../serving/serving-revision';

type ApplyMode = 'delta' | 'reload';

/**
 * Keeps the served configuration in step with the environment's configuration in Redis: all of it
 * at boot; each `config.changed` delta that follows our revision applied in place; after a gap (a
 * missed message, a Redis reconnect, the periodic head check disagreeing) the missed changes
 * replayed from the environment's change log; a full load only when the log does not reach back
 * that far, the environment was replaced whole, or the publication epoch changed (a fresh or
 * restored Manager database starts a new line of revisions, which may be lower than ours). While
 * Redis is away the last compiled config keeps serving. All changes run one at a time so a slow
 * load can never overwrite a newer delta.
 *
 * Plain class: Nest calls the lifecycle methods by name (see GatewayModule).
 */
export class ConfigSync {
  private queue: Promise<void> = Promise.resolve();
  private pollTimer: NodeJS.Timeout | undefined;
  private lostRedis = false;
  /** Epoch and revision of a snapshot we refused, so the poll does not retry (and log) it forever. */
  private refused: string | null = null;
  private warnedMissing = false;
  /** A full load is running: messages arriving meanwhile are caught up with from the log afterwards, not queued. */
  private loading = false;
  /** The one catch-up queued for them, until it starts. */
  private caughtUpAfterLoad: Promise<void> | null = null;
  private loggedProblems: ServingRevision['problems'] | null = null;

  constructor(
    private readonly environment: string,
    private readonly pollIntervalMs: number,
    private readonly redis: Redis,
    private readonly store: EnvironmentConfigStore,
    private readonly active: ActiveConfiguration,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.redis.on('close', () => {
      if (!this.lostRedis) this.log.warn({ environment: this.environment }, 'lost Redis; serving the last compiled config');
      this.lostRedis = true;
    });
    this.redis.on('ready', () => {
      const reconnect = this.lostRedis;
      this.lostRedis = false;
      void this.enqueue(() => (reconnect ? this.catchUp('reconnect') : this.reload('boot')));
    });
    if (this.redis.status === 'ready') void this.enqueue(() => this.reload('boot'));
    this.pollTimer = setInterval(() => void this.checkRevision(), this.pollIntervalMs);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.pollTimer);
    await this.queue;
  }

  /** Entry point of the `config.changed` event handler, given the message's text. Resolves when the change was handled. */
  onConfigChanged(text: string): Promise<void> {
    this.metrics.configMessages.inc();
    // A full load takes tens of seconds at a million credentials, and a Manager reconciling
    // publishes hundreds of pages of 1,000 meanwhile: queued, each would keep its parsed change
    // alive until the load ends (hundreds of MB the scavenges copy and promote: 50-90 ms pauses,
    // issue #13). The change log has them all; one catch-up after the load replays them, and the
    // messages are not even parsed.
    if (this.loading) {
      return (this.caughtUpAfterLoad ??= this.enqueue(() => {
        this.caughtUpAfterLoad = null;
        return this.catchUp('changed-during-load');
      }));
    }
    // Parsed in the handling turn, not the arrival's.
    return this.enqueue(() => this.handleChange(decodeConfigChanged(text)));
  }

  /** Resolves once every change queued so far has been handled (for tests and shutdown). */
  settled(): Promise<void> {
    return this.queue;
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    // Each task in a turn of its own: chained promises alone would run every task queued during a
    // full load (hundreds of messages while a Manager reconciles) back to back in one turn.
    this.queue = this.queue
      .then(nextTurn)
      .then(task)
      .catch((err: unknown) => this.log.error({ err, environment: this.environment }, 'config sync failed; keeping the current config'));
    return this.queue;
  }

  private async handleChange(payload: unknown): Promise<void> {
    const parsed = configChangedMessageSchema.safeParse(payload);
    if (!parsed.success) {
      this.log.warn({ environment: this.environment, issues: parsed.error.issues.slice(0, 5) }, 'malformed config.changed message; reloading the snapshot');
      return this.reload('malformed-message');
    }
    const message = parsed.data;
    if (message.environment !== this.environment) return;
    const current = this.active.current;
    if (message.full || (current && message.epoch !== current.epoch)) return this.reload(message.full ? 'replaced' : 'new-epoch', message);
    if (current && message.revision <= current.revision) {
      this.log.debug({ environment: this.environment, revision: message.revision, current: current.revision }, 'ignoring stale config.changed');
      return;
    }
    if (current && message.previousRevision === current.revision) {
      // Paced too: a change of signing keys, key managers or identity sources recompiles every chain.
      this.applied(await this.active.applyPaced([message]), 'delta');
      return;
    }
    return this.catchUp('gap', message);
  }

  /** Replays what was missed from the change log; loads everything only when the log cannot. */
  private async catchUp(reason: string, trigger?: ConfigChangedMessage): Promise<void> {
    const served = this.active.current;
    if (served) {
      let changes;
      try {
        changes = await this.store.changesSince(this.environment, served.epoch, served.revision);
      } catch (err) {
        if (err instanceof UnsupportedSnapshotVersionError) return this.refuse(err);
        this.log.warn({ err, environment: this.environment, reason }, 'could not read the change log; keeping the current config');
        return;
      }
      if (changes !== null) {
        // Slice by slice, a turn each: a replay may be hundreds of changes (ActiveConfiguration.applyPaced).
        if (changes.length > 0) this.applied(await this.active.applyPaced(changes), 'delta', { reason, replayed: changes.length });
        return;
      }
    }
    return this.reload(reason, trigger);
  }

  private async reload(reason: string, trigger?: ConfigChangedMessage): Promise<void> {
    // How long a request could wait while this load runs, reported with it (issue #13: a full
    // load of a million credentials must not stall the event loop over 50 ms). A 1 ms timer, so
    // the figure is the stall itself, not the stall plus up to a coarser timer's period.
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    this.loading = true;
    try {
      const served = await this.load(reason);
      if (!served) return;
      this.applied(served, 'reload', { reason, awaited: trigger?.revision });
      // The histogram's timer runs after the turn that published the load (its due time is
      // earlier than this one's): then its max covers that turn too.
      await new Promise((resolve) => setTimeout(resolve, 1));
      const longestDelayMs = Math.round(delay.max / 1e5) / 10;
      this.metrics.configLoadLongestDelay.set(longestDelayMs / 1000);
      this.log.info({ environment: this.environment, revision: served.revision, longestDelayMs }, 'full load: longest event-loop delay');
    } finally {
      this.loading = false;
      delay.disable();
    }
  }

  /** The environment's whole configuration, read and built while the served one keeps serving; null when nothing new was published. */
  private async load(reason: string): Promise<ServingRevision | null> {
    let loaded;
    try {
      // Credentials go straight into the new revision's directory as they are read.
      loaded = await this.store.loadInto(this.environment, () => this.active.newDirectory());
    } catch (err) {
      if (err instanceof UnsupportedSnapshotVersionError) this.refuse(err);
      else this.log.warn({ err, environment: this.environment, reason }, 'could not read the config snapshot; keeping the current config');
      return null;
    }
    if (!loaded) {
      if (!this.warnedMissing) this.log.warn({ environment: this.environment }, 'no config snapshot in Redis yet; not ready, retrying');
      this.warnedMissing = true;
      return null;
    }
    const { snapshot, credentials } = loaded;
    const served = this.active.current;
    const sameEpoch = served?.epoch === snapshot.epoch;
    if (sameEpoch && snapshot.revision === served.revision) return null;
    if (served && !sameEpoch) {
      this.log.info(
        { environment: this.environment, epoch: snapshot.epoch, revision: snapshot.revision, servedEpoch: served.epoch, servedRevision: served.revision },
        'new publication epoch (fresh or restored Manager database)',
      );
    } else if (served && snapshot.revision < served.revision) {
      this.log.warn(
        { environment: this.environment, revision: snapshot.revision, current: served.revision },
        'stored snapshot is older than the served config; adopting it as the source of truth',
      );
    }
    // Built in slices: the previous revision keeps serving until the new one is complete.
    return this.active.load(snapshot, credentials);
  }

  private applied(served: ServingRevision, mode: ApplyMode, extra: Record<string, unknown> = {}): void {
    this.refused = null;
    this.metrics.configApplied.labels(mode).inc();
    this.log.info({ environment: this.environment, revision: served.revision, mode, proxies: served.proxies.size, credentials: served.directory.size, ...extra }, 'config applied');
    // Logged when the proxies were compiled, not again for every credential change.
    if (served.problems !== this.loggedProblems) {
      for (const problem of served.problems)
        this.log.error({ environment: this.environment, revision: served.revision, ...problem }, 'proxy unavailable: its configuration does not compile');
      this.loggedProblems = served.problems;
    }
  }

  private refuse(err: UnsupportedSnapshotVersionError): void {
    const head = err.head;
    if (headId(head) !== this.refused) {
      this.log.error(
        { environment: this.environment, schemaVersion: err.version, revision: head?.revision, served: this.active.revision },
        `refusing config snapshot: ${err.message}`,
      );
    }
    this.refused = headId(head);
  }

  private async checkRevision(): Promise<void> {
    let stored: ConfigHead | null;
    try {
      stored = await this.store.head(this.environment);
    } catch (err) {
      // Redis is away (the 'ready' handler resyncs when it returns), or the stored version is refused.
      if (err instanceof UnsupportedSnapshotVersionError && headId(err.head) !== this.refused) await this.enqueue(() => this.reload('poll'));
      return;
    }
    const served = this.active.current;
    if (stored === null || (stored.epoch === served?.epoch && stored.revision === served.revision) || headId(stored) === this.refused) return;
    await this.enqueue(() => this.catchUp('poll'));
  }
}

const headId = (head: ConfigHead | null) => (head ? `${head.epoch}/${head.revision}` : null);
