import { bruteForceBlockSchema, bruteForceEventSchema, bruteForceKeys, ChannelMirror, type BruteForceBlock } from '@idm/config-bus';
import type Redis from 'ioredis';

const PRUNE_INTERVAL_MS = 60_000;

/**
 * This Gateway's copy of its environment's brute-force blocks, read on the request path (a Map
 * lookup, nothing when there are no blocks). Blocks and lifts arrive on the environment's
 * channel within milliseconds of the Gateway that decided them; on every (re)subscription
 * (`ChannelMirror`) the whole list is read again and replaces the copy, so a lift or block
 * published while the subscriber was away is not missed.
 */
export class BlockMirror {
  private entries = new Map<string, { id: string; until: number }>();
  private readonly blocksKey: string;
  private readonly subscription: ChannelMirror;
  private everLoaded = false;
  private pruneTimer: NodeJS.Timeout | null = null;

  /** `subscriber` is a connection of its own (subscriber mode allows nothing else); neither is closed here. */
  constructor(
    private readonly redis: Redis,
    subscriber: Redis,
    environment: string,
    private readonly clock: () => number,
    private readonly onError: (err: unknown) => void,
  ) {
    const keys = bruteForceKeys(environment);
    this.blocksKey = keys.blocks;
    this.subscription = new ChannelMirror(subscriber, keys.events, { load: () => this.load(), apply: (message) => this.apply(message), onError });
  }

  get loaded(): boolean {
    return this.everLoaded;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Until when the subject of `key` is blocked (epoch ms); 0 when it is not. */
  until(key: string): number {
    if (this.entries.size === 0) return 0;
    const entry = this.entries.get(key);
    return entry === undefined || entry.until <= this.clock() ? 0 : entry.until;
  }

  remember(block: BruteForceBlock): void {
    const known = this.entries.get(block.key);
    if (known === undefined || known.until < block.until) this.entries.set(block.key, { id: block.id, until: block.until });
  }

  start(): void {
    this.subscription.start();
    this.pruneTimer = setInterval(() => this.prune(), PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
  }

  stop(): void {
    this.subscription.stop();
    if (this.pruneTimer) clearInterval(this.pruneTimer);
  }

  /** Replaces the copy with the blocks stored now. */
  async load(): Promise<void> {
    const stored = await this.redis.hvals(this.blocksKey);
    const now = this.clock();
    const entries = new Map<string, { id: string; until: number }>();
    for (const json of stored) {
      const parsed = bruteForceBlockSchema.safeParse(parseJson(json));
      if (parsed.success && parsed.data.until > now) entries.set(parsed.data.key, { id: parsed.data.id, until: parsed.data.until });
    }
    this.entries = entries;
    this.everLoaded = true;
  }

  prune(): void {
    const now = this.clock();
    for (const [key, entry] of this.entries) if (entry.until <= now) this.entries.delete(key);
  }

  private apply(message: string): void {
    const parsed = bruteForceEventSchema.safeParse(parseJson(message));
    if (!parsed.success) return this.onError(new Error(`malformed message on ${this.subscription.channel} ignored`));
    const event = parsed.data;
    if ('block' in event) return this.remember(event.block);
    if (this.entries.get(event.lift.key)?.id === event.lift.id) this.entries.delete(event.lift.key);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
