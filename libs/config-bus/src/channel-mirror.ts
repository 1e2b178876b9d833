import type Redis from 'ioredis';

const RELOAD_RETRY_MS = 1_000;

/** What a mirror does with its channel: read the whole stored state, and apply one message. */
export interface MirrorSource {
  /** Reads what Redis stores into the mirror (replacing or merging, as the mirror's data allows). */
  load(): Promise<void>;
  /** One message of the channel. */
  apply(message: string): void;
  /** A load that failed (retried every second while started) or a message `apply` rejected. */
  onError(err: unknown): void;
}

/**
 * The subscription half of an in-memory copy of shared Redis state (brute-force blocks, revoked
 * JWT ids, projects' brute-force settings): subscribes to the state's channel, then loads it
 * whole — now or once the subscriber connects, and again after every reconnect, so what was
 * published while the subscriber was away is not missed. Subscribing first means a change stored
 * in between is in the load and one after arrives as a message. Several mirrors may share one
 * subscriber connection: each takes the messages of its own channel.
 */
export class ChannelMirror {
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;

  /** `subscriber` is a connection in subscriber mode that reconnects on its own; not closed here. */
  constructor(
    private readonly subscriber: Redis,
    readonly channel: string,
    private readonly source: MirrorSource,
  ) {}

  start(): void {
    this.stopped = false;
    this.subscriber.on('message', this.onMessage);
    this.subscriber.on('ready', this.resync);
    if (this.subscriber.status === 'ready') this.resync();
  }

  stop(): void {
    this.stopped = true;
    this.subscriber.off('message', this.onMessage);
    this.subscriber.off('ready', this.resync);
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  /** Subscribes (again) and reloads; retried every second until it succeeds or the mirror stops. */
  readonly resync = (): void => {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.subscriber
      .subscribe(this.channel)
      .then(() => this.source.load())
      .catch((err: unknown) => {
        this.source.onError(err);
        if (this.stopped) return;
        this.retryTimer = setTimeout(this.resync, RELOAD_RETRY_MS);
        this.retryTimer.unref();
      });
  };

  private readonly onMessage = (channel: string, message: string): void => {
    if (channel === this.channel) this.source.apply(message);
  };
}
