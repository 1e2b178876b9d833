import { randomBytes } from 'node:crypto';
import { eventually } from '@idm/test-kit';
import Redis from 'ioredis';
import { ChannelMirror } from '@idm/config-bus';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The subscription half of the Gateway's in-memory mirrors (@idm/config-bus; blocks, settings, revoked JWT ids), on a real Redis. */
describe('ChannelMirror', () => {
  const prefix = `channel-mirror-${randomBytes(4).toString('hex')}`;
  const publisher = new Redis(REDIS_URL);
  const subscriber = new Redis(REDIS_URL);
  const mirrors: ChannelMirror[] = [];

  const mirror = (channel: string, load: () => Promise<void>) => {
    const seen = { loads: 0, messages: [] as string[], errors: [] as string[] };
    const m = new ChannelMirror(subscriber, channel, {
      load: async () => {
        seen.loads++;
        await load();
      },
      apply: (message) => seen.messages.push(message),
      onError: (err) => seen.errors.push((err as Error).message),
    });
    mirrors.push(m);
    m.start();
    return { m, seen };
  };

  afterAll(async () => {
    for (const m of mirrors) m.stop();
    publisher.disconnect();
    subscriber.disconnect();
  });

  it('loads once subscribed, takes only its own channel on a shared subscriber, and loads again after a reconnect', async () => {
    const a = mirror(`${prefix}:a`, async () => undefined);
    const b = mirror(`${prefix}:b`, async () => undefined);
    await eventually(() => a.seen.loads === 1 && b.seen.loads === 1, Boolean, { what: 'first loads' });
    await publisher.publish(`${prefix}:a`, 'for a');
    await publisher.publish(`${prefix}:b`, 'for b');
    await eventually(() => a.seen.messages.length + b.seen.messages.length === 2, Boolean, { what: 'both messages' });
    expect([a.seen.messages, b.seen.messages]).toEqual([['for a'], ['for b']]);

    subscriber.disconnect(true); // reconnects on its own
    await eventually(() => a.seen.loads === 2 && b.seen.loads === 2, Boolean, { what: 'loads after the reconnect' });
    await publisher.publish(`${prefix}:a`, 'after');
    await eventually(() => a.seen.messages.at(-1) === 'after', Boolean, { what: 'a message after the reconnect' });
  });

  it('retries a failed load every second, reporting each failure, until it succeeds', async () => {
    let failures = 2;
    const c = mirror(`${prefix}:c`, async () => {
      if (failures-- > 0) throw new Error('store away');
    });
    await eventually(() => c.seen.loads === 3, Boolean, { what: 'two retries', timeoutMs: 10_000 });
    expect(c.seen.errors).toEqual(['store away', 'store away']);
  });
});
