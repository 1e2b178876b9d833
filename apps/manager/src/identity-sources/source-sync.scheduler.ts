import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { createRedisClient } from '@idm/config-bus';
import type { IdentitySourceSync, IdentitySourceSyncReport } from '@idm/domain';
import type Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { IdentitySourceRepository, type IdentitySourceRow } from '../repositories/identity-source.repository';
import { IdentitySourceSyncRun } from './source-sync';

/** A run holds its lock this long and renews it at a third of that, so a Manager that dies frees it within a minute. */
const LOCK_MS = 60_000;
const KEY = 'idm:identity-source-sync';
/** Deletes or extends the lock only while it still holds this run's token. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

/** Another Manager (or an earlier request) is syncing this source now. */
export class SyncBusyError extends Error {}

/**
 * Runs each source's periodic sync once per interval across all Managers sharing the Redis:
 *  - `due:<source>` is set with NX for the interval: the Manager that sets it owns this interval's
 *    run, every other finds it taken until the interval has passed (a run that fails is retried at
 *    the next interval, not at the next tick);
 *  - `running:<source>` (NX, a minute, renewed while the run lasts) keeps two runs of one source
 *    from overlapping, also a scheduled one and an operator's "sync now".
 * Redis unreachable: no run starts (nobody is disabled by a sync that cannot be coordinated).
 */
@Injectable()
export class IdentitySourceSyncScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('IdentitySourceSync');
  private readonly redis: Redis;
  private readonly tickMs: number;
  private timer?: NodeJS.Timeout;
  private ticking: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    @Inject(MANAGER_CONFIG) config: ManagerConfig,
    private readonly sources: IdentitySourceRepository,
    private readonly runner: IdentitySourceSyncRun,
  ) {
    this.redis = createRedisClient(config.redis, { lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: 5_000, connectionName: 'idm-manager-source-sync' });
    this.redis.on('error', () => undefined); // a tick that cannot reach Redis logs it
    this.tickMs = config.IDENTITY_SOURCE_SYNC_CHECK_SECONDS * 1000;
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.ticking = this.ticking.then(async () => void (await this.runDue())).catch((err: Error) => this.logger.warn(`identity source sync failed: ${err.message}`));
    }, this.tickMs).unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.ticking;
    this.redis.disconnect();
  }

  /** Runs every enabled source's sync whose interval has passed (claimed by no other Manager); the reports of those run here. */
  async runDue(): Promise<IdentitySourceSyncReport[]> {
    const reports: IdentitySourceSyncReport[] = [];
    for (const source of await this.sources.periodicallySynced()) {
      if (this.stopped) break;
      const sync = source.sync!;
      const claimed = await this.redis.set(`${KEY}:due:${source.id}`, '1', 'PX', sync.intervalMinutes * 60_000, 'NX');
      if (claimed !== 'OK') continue;
      try {
        reports.push(await this.runLocked(source, sync));
      } catch (err) {
        this.logger.warn(`identity source ${source.name}: sync not done (${(err as { code?: string }).code ?? 'error'}): ${(err as Error).message}`);
      }
    }
    return reports;
  }

  /** One run of the source's sync now, unless one is running (SyncBusyError). */
  async runLocked(source: IdentitySourceRow, sync: IdentitySourceSync): Promise<IdentitySourceSyncReport> {
    const key = `${KEY}:running:${source.id}`;
    const token = randomBytes(16).toString('base64url');
    if ((await this.redis.set(key, token, 'PX', LOCK_MS, 'NX')) !== 'OK') throw new SyncBusyError(`a sync of ${source.name} is running`);
    const renew = setInterval(() => void this.redis.eval(RENEW, 1, key, token, LOCK_MS).catch(() => undefined), LOCK_MS / 3).unref();
    try {
      return await this.runner.run(source, sync);
    } finally {
      clearInterval(renew);
      await this.redis.eval(RELEASE, 1, key, token).catch(() => undefined);
    }
  }
}
