import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { RedisBusServer } from './redis-bus';
import type { RedisTopology } from './redis-topology';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The bus transport against a real Redis: text handlers get the message as published, unparsed. */
describe('RedisBusServer.addTextHandler (real Redis)', () => {
  let bus: RedisBusServer;
  let publisher: Redis;
  const channel = `bus-test:${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    bus = new RedisBusServer({ mode: 'single', url: REDIS_URL } satisfies RedisTopology);
    publisher = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    await bus.close();
    publisher.disconnect();
  });

  it('hands over the exact text, never parsed by the transport, and subscribes like any handler', async () => {
    const received: string[] = [];
    bus.addTextHandler(channel, async (text) => void received.push(text));
    const parse = jest.spyOn(bus, 'parseMessage');
    await new Promise<void>((resolve, reject) => bus.listen((err?: unknown) => (err ? reject(err as Error) : resolve())));
    const sent = ['{"pattern":"config.changed","data":{"revision":2}}', 'not JSON {', ''];
    // Subscribed once the transport's subscriber says so; publish until the first text arrives.
    for (let i = 0; received.length === 0 && i < 100; i++) {
      await publisher.publish(channel, sent[0]);
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const text of sent.slice(1)) await publisher.publish(channel, text);
    const deadline = Date.now() + 5_000;
    while (received.at(-1) !== '' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(received.slice(-3)).toEqual(sent);
    expect(parse).not.toHaveBeenCalled();
  });
});
