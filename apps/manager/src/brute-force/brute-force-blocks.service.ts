import { BruteForceStore, createRedisClient, type BruteForceBlock } from '@idm/config-bus';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { ChangeWriter } from '../audit/change-writer';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { PermissionService } from '../governance/permission.service';
import { ProblemError } from '../problems/problem.error';
import { EnvironmentRepository } from '../repositories/environment.repository';
import { blockView, type BruteForceBlockView } from './brute-force-block.schema';

/**
 * The Gateways' brute-force blocks of an environment, read from and lifted in Redis (they are
 * runtime state of the edge, not rows: they end by themselves). A block of a project's
 * credential belongs to that project (credential:read / credential:write there); blocks of
 * addresses and of token-endpoint clients name no project and are the system's.
 */
@Injectable()
export class BruteForceBlocksService implements OnApplicationShutdown {
  private readonly redis: Redis;

  constructor(
    @Inject(MANAGER_CONFIG) config: ManagerConfig,
    private readonly environments: EnvironmentRepository,
    private readonly permissions: PermissionService,
    private readonly changes: ChangeWriter,
  ) {
    // Fails at once while Redis is away (503), instead of holding the admin's request.
    this.redis = createRedisClient(config.redis, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 2_000,
      connectionName: 'idm-manager-brute-force',
    });
    this.redis.on('error', () => undefined);
    this.redis.connect().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    this.redis.disconnect();
  }

  async list(environmentId: string): Promise<BruteForceBlockView[]> {
    this.permissions.checkAnywhere('credential:read');
    const store = await this.storeOf(environmentId);
    const blocks = await unavailableAs503(() => store.list(Date.now()));
    return blocks.filter((b) => this.permissions.can('credential:read', { projectId: b.projectId })).map(blockView);
  }

  /** Lifts a block on every Gateway at once and forgives its subject (count and strikes); audited. */
  async lift(environmentId: string, blockId: string): Promise<void> {
    this.permissions.checkAnywhere('credential:read');
    const store = await this.storeOf(environmentId);
    const now = Date.now();
    // What the actor cannot see does not exist for it (404, as for entities of other projects).
    const block = (await unavailableAs503(() => store.list(now))).find((b) => b.id === blockId);
    if (!block || !this.permissions.can('credential:read', { projectId: block.projectId })) throw ProblemError.notFound('block', blockId);
    this.permissions.check('credential:write', { projectId: block.projectId });
    await this.changes.write(async () => {
      // Inside the audited change: a lift Redis refused leaves no audit event.
      const lifted = await unavailableAs503(() => store.lift(blockId));
      if (lifted === null) throw ProblemError.notFound('block', blockId);
      return {
        result: undefined,
        change: { action: 'lift', entityKind: 'brute-force-block', entityId: blockId, projectId: lifted.projectId, before: auditedState(environmentId, lifted), after: null },
      };
    });
  }

  private async storeOf(environmentId: string): Promise<BruteForceStore> {
    const environment = await this.environments.findById(environmentId);
    if (!environment) throw ProblemError.notFound('environment', environmentId);
    return new BruteForceStore(this.redis, environment.name);
  }
}

function auditedState(environmentId: string, block: BruteForceBlock): Record<string, unknown> {
  return { environmentId, ...blockView(block) };
}

async function unavailableAs503<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof ProblemError) throw err;
    throw new ProblemError(
      503,
      'block_store_unavailable',
      'Block store unavailable',
      'the brute-force blocks cannot be read or changed while Redis is unreachable',
      undefined,
      undefined,
      {
        'retry-after': '5',
      },
    );
  }
}
