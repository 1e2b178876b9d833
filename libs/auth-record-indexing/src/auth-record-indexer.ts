import type Redis from 'ioredis';
import { AuthRecordConsumer, type ConsumerLog, type ConsumerSettings } from './auth-record-consumer';
import type { AuthRecordSink } from './auth-record-sink';

const RETENTION_CHECK_MS = 3_600_000;

export interface IndexerLog extends ConsumerLog {
  info(fields: object, message: string): void;
}

/**
 * One indexer's life, the same in `apps/indexer` and inside a Manager on PGlite: wait until the
 * sink can be prepared (a database or cluster starting with us), apply retention hourly, consume
 * until stopped, then release the sink (the caller owns the Redis connection).
 */
export class AuthRecordIndexer {
  private readonly consumer: AuthRecordConsumer;
  private stopping = false;

  constructor(
    redis: Redis,
    private readonly sink: AuthRecordSink,
    settings: ConsumerSettings,
    private readonly log: IndexerLog,
  ) {
    this.consumer = new AuthRecordConsumer(redis, sink, settings, log);
  }

  /** Records written since start. */
  get indexed(): number {
    return this.consumer.indexed;
  }

  /** Resolves once stopped and the sink closed. */
  async run(): Promise<void> {
    await this.prepared();
    if (this.stopping) return this.sink.close();
    const retain = () => this.sink.applyRetention(Date.now()).catch((err: unknown) => this.log.warn({ err: { message: (err as Error).message } }, 'retention failed'));
    const retention = setInterval(() => void retain(), RETENTION_CHECK_MS).unref();
    void retain();
    const progress = setInterval(() => this.log.info({ indexed: this.indexed }, 'auth records indexed'), 60_000).unref();
    this.log.info({ sink: this.sink.name }, 'indexer running');
    await this.consumer.run();
    clearInterval(retention);
    clearInterval(progress);
    await this.sink.close();
    this.log.info({ indexed: this.indexed }, 'indexer stopped');
  }

  stop(): void {
    this.stopping = true;
    this.consumer.stop();
  }

  private async prepared(): Promise<void> {
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        return await this.sink.prepare();
      } catch (err) {
        if (attempt === 1 || attempt % 30 === 0) this.log.warn({ err: { message: (err as Error).message }, sink: this.sink.name }, 'sink not ready; retrying');
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }
}
