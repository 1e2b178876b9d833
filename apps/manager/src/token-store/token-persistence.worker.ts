import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { closeQueue, createRedisClient, refusalReason, TOKEN_PERSIST_PREFIX, TOKEN_PERSIST_QUEUE, tokenPersistJobSchema } from '@idm/config-bus';
import { Worker } from 'bullmq';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { OAuthTokenRepository } from '../repositories/oauth-token.repository';
import { revocationSubject } from './revocation-subject';

/** Writes the Gateways' token jobs to PostgreSQL: the durable copy behind the Redis token store. */
@Injectable()
export class TokenPersistenceWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('TokenPersistence');
  private worker?: Worker<unknown>;

  constructor(
    @Inject(MANAGER_CONFIG) private readonly config: ManagerConfig,
    private readonly tokens: OAuthTokenRepository,
  ) {}

  onApplicationBootstrap(): void {
    // BullMQ needs a connection that retries forever rather than failing commands.
    const connection = createRedisClient(this.config.redis, { maxRetriesPerRequest: null, lazyConnect: true, connectionName: 'idm-manager-token-persist' });
    connection.on('error', () => undefined);
    this.worker = new Worker<unknown>(TOKEN_PERSIST_QUEUE, (job) => this.persist(job.data), { connection, prefix: TOKEN_PERSIST_PREFIX, concurrency: 8, autorun: true });
    this.worker.on('failed', (job, err) => this.logger.warn(`token job ${job?.id} failed: ${err.message}`));
    this.worker.on('error', () => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.worker) await closeQueue(this.worker);
  }

  /**
   * A job that is not a token job is logged and completed, not failed: BullMQ would retry it five
   * times and keep it, and no retry can make it valid.
   */
  async persist(data: unknown): Promise<void> {
    const parsed = tokenPersistJobSchema.safeParse(data);
    if (!parsed.success) {
      this.logger.warn(`malformed token job dropped: ${refusalReason(parsed.error)}`);
      return;
    }
    const job = parsed.data;
    switch (job.op) {
      case 'issue':
        await this.tokens.insertCopy({
          tokenHash: job.tokenHash,
          kind: job.kind,
          environment: job.environment,
          familyId: job.familyId,
          record: job.record,
          expiresAt: job.expiresAt === null ? null : new Date(job.expiresAt),
        });
        return;
      case 'revoke':
      case 'revoke-family':
        // A fact of its own, not a mark on the copy: with concurrent jobs the copy may not exist yet.
        await this.tokens.revoke(revocationSubject(job));
        return;
    }
  }
}
