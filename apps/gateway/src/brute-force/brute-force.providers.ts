import { BruteForceStore, closeRedis } from '@idm/config-bus';
import type { OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { createFailFastRedis } from '../config/fail-fast-redis';
import type { GatewayConfig } from '../config/gateway-config';
import { BlockAlerts } from './block-alerts';
import { BlockMirror } from './block-mirror';
import { BruteForceGuard } from './brute-force-guard';
import { ProjectSettingsMirror } from './project-settings-mirror';

/**
 * The Gateway's brute-force guard as configured (BRUTE_FORCE_*, the projects' settings from the Manager), with the two connections it
 * holds (commands, and the block list's subscriber), closed at shutdown.
 */
export class ConfiguredBruteForce implements OnApplicationShutdown {
  readonly guard: BruteForceGuard;
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly mirror: BlockMirror;
  private readonly projectSettings: ProjectSettingsMirror;

  constructor(config: GatewayConfig, log: Logger) {
    const bfLog = log.child({ component: 'brute-force' });
    this.redis = createFailFastRedis(config.redis, bfLog, { name: 'idm-gateway-brute-force', maxRetriesPerRequest: 1, commandTimeoutMs: 2_000 });
    this.subscriber = createFailFastRedis(config.redis, bfLog, { name: 'idm-gateway-brute-force-blocks', maxRetriesPerRequest: 1 });
    let reported = 0;
    const onError = (err: unknown) => {
      // Retried every second while Redis is away: one line a minute is enough.
      if (Date.now() - reported < 60_000) return;
      reported = Date.now();
      bfLog.warn({ err: { message: (err as Error)?.message } }, 'brute-force blocks or settings could not be read; retrying');
    };
    this.mirror = new BlockMirror(this.redis, this.subscriber, config.environment, Date.now, onError);
    this.mirror.start();
    this.projectSettings = new ProjectSettingsMirror(this.redis, this.subscriber, config.bruteForce.detectors, onError);
    this.projectSettings.start();
    const alerts = new BlockAlerts(config.bruteForce.alerts, config.environment, bfLog);
    this.guard = new BruteForceGuard(new BruteForceStore(this.redis, config.environment), this.mirror, this.projectSettings, alerts, bfLog);
  }

  async onApplicationShutdown(): Promise<void> {
    this.mirror.stop();
    this.projectSettings.stop();
    await Promise.all([this.subscriber, this.redis].map(closeRedis));
  }
}
