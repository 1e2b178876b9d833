import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { closeRedis, createRedisClient } from '@idm/config-bus';
import type Redis from 'ioredis';
import { Observable, share } from 'rxjs';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';

/**
 * Redis pub/sub for the live tails, so every Manager sees what every Gateway and every other
 * Manager published: one subscriber connection per Manager (opened on the first tail, shared by
 * all of them), one publisher connection. Best effort by nature: a tail shows what arrives while
 * it is connected; the query APIs read the durable stores.
 */
@Injectable()
export class LiveFeed implements OnApplicationShutdown {
  private readonly logger = new Logger('LiveFeed');
  private subscriber: Redis | null = null;
  private publisher: Redis | null = null;
  private readonly feeds = new Map<string, Observable<string>>();

  constructor(@Inject(MANAGER_CONFIG) private readonly config: ManagerConfig) {}

  /** Messages of `channel` as they arrive; subscribed while anyone listens. */
  messages(channel: string): Observable<string> {
    let feed = this.feeds.get(channel);
    if (feed === undefined) {
      feed = new Observable<string>((subscriber) => {
        const redis = this.subscriberConnection();
        const onMessage = (from: string, message: string) => {
          if (from === channel) subscriber.next(message);
        };
        redis.on('message', onMessage);
        void redis.subscribe(channel).catch((err: Error) => this.logger.warn(`cannot subscribe to ${channel}: ${err.message}`));
        return () => {
          redis.off('message', onMessage);
          void redis.unsubscribe(channel).catch(() => undefined);
        };
      }).pipe(share());
      this.feeds.set(channel, feed);
    }
    return feed;
  }

  /** Fire and forget: a tail is not worth failing or delaying a committed change for. */
  publish(channel: string, message: string): void {
    this.publisher ??= this.connection('idm-manager-live-publish');
    this.publisher.publish(channel, message).catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.subscriber, this.publisher].filter((redis) => redis !== null).map(closeRedis));
  }

  private subscriberConnection(): Redis {
    this.subscriber ??= this.connection('idm-manager-live');
    return this.subscriber;
  }

  private connection(name: string): Redis {
    const redis = createRedisClient(this.config.redis, { maxRetriesPerRequest: 1, connectionName: name, retryStrategy: (attempt) => Math.min(attempt * 250, 2_000) });
    redis.on('error', () => undefined);
    return redis;
  }
}
