import { createRedisClient, EnvironmentConfigStore, GatewayPresenceStore, UnsupportedSnapshotVersionError, type ConfigHead } from '@idm/config-bus';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { PermissionService } from '../governance/permission.service';
import { ProblemError } from '../problems/problem.error';
import { EnvironmentRepository } from '../repositories/environment.repository';
import { gatewayStatus, type EnvironmentGateways } from './environment-gateways.schema';

/**
 * The Gateways serving an environment, live: what each reported of itself in Redis (it never
 * touches the database), compared with the revision published there. Readable by whoever may read
 * environments.
 */
@Injectable()
export class EnvironmentGatewaysService implements OnApplicationShutdown {
  private readonly redis: Redis;

  constructor(
    @Inject(MANAGER_CONFIG) config: ManagerConfig,
    private readonly environments: EnvironmentRepository,
    private readonly permissions: PermissionService,
  ) {
    // Fails at once while Redis is away (503), instead of holding the admin's request.
    this.redis = createRedisClient(config.redis, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 2_000,
      connectionName: 'idm-manager-gateway-status',
    });
    this.redis.on('error', () => undefined);
    this.redis.connect().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    this.redis.disconnect();
  }

  async list(environmentId: string): Promise<EnvironmentGateways> {
    this.permissions.checkAnywhere('environment:read');
    const environment = await this.environments.findById(environmentId);
    if (!environment) throw ProblemError.notFound('environment', environmentId);
    const [presences, head] = await unavailableAs503(() =>
      Promise.all([new GatewayPresenceStore(this.redis, environment.name).list(), new EnvironmentConfigStore(this.redis).head(environment.name).catch(headUnreadable)]),
    );
    return {
      environment: environment.name,
      publishedRevision: head?.revision ?? null,
      gateways: presences.map((p) => gatewayStatus(p, head)).sort((a, b) => a.id.localeCompare(b.id)),
    };
  }
}

/** A head of a snapshot version this Manager does not write (an upgrade under way) still says its epoch and revision. */
function headUnreadable(err: unknown): ConfigHead | null {
  if (err instanceof UnsupportedSnapshotVersionError) return err.head;
  throw err;
}

async function unavailableAs503<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch {
    throw new ProblemError(
      503,
      'gateway_status_unavailable',
      'Gateway status unavailable',
      'the Gateways report to Redis, which is unreachable; they keep serving meanwhile',
      undefined,
      undefined,
      { 'retry-after': '5' },
    );
  }
}
