import { randomBytes } from 'node:crypto';
import { GatewayPresenceStore } from '@idm/config-bus';
import Redis from 'ioredis';
import pino from 'pino';
import { GatewayHeartbeat, type ServedState } from './gateway-heartbeat';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('GatewayHeartbeat on a real Redis', () => {
  const environment = `heartbeat-${randomBytes(4).toString('hex')}`;
  const redis = new Redis(REDIS_URL);
  const store = new GatewayPresenceStore(redis, environment);
  const state: ServedState = { epoch: null, revision: null, appliedAt: null, ready: false, answered: 0 };
  const heartbeat = new GatewayHeartbeat({ id: 'gw-1', environment, version: '9.9.9', intervalMs: 100 }, store, () => state, pino({ level: 'silent' }));

  afterAll(async () => {
    const left = await redis.keys(`{idm:gw:${environment}}:*`);
    if (left.length) await redis.del(...left);
    redis.disconnect();
  });

  const listed = async (until: (list: Awaited<ReturnType<GatewayPresenceStore['list']>>) => boolean) => {
    const deadline = Date.now() + 10_000;
    let list = await store.list();
    while (!until(list) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      list = await store.list();
    }
    return list;
  };

  it('reports at once on boot, then what it serves on each beat, and withdraws on shutdown', async () => {
    heartbeat.onApplicationBootstrap();
    const first = await listed((l) => l.length === 1);
    expect(first).toEqual([expect.objectContaining({ id: 'gw-1', environment, version: '9.9.9', ready: false, revision: null, epoch: null })]);

    Object.assign(state, { epoch: 'e1', revision: 4, appliedAt: 1_700_000_000_000, ready: true });
    const serving = await listed((l) => l[0]?.revision === 4);
    expect(serving[0]).toMatchObject({ epoch: 'e1', revision: 4, appliedAt: 1_700_000_000_000, ready: true, startedAt: first[0].startedAt });
    expect(serving[0].reportedAt).toBeGreaterThan(first[0].reportedAt);

    await heartbeat.beforeApplicationShutdown();
    expect(await store.list()).toEqual([]);
    // No beat after the withdrawal brings it back.
    await new Promise((r) => setTimeout(r, 300));
    expect(await store.list()).toEqual([]);
  });

  it('reports the requests answered per second since the previous beat, never a negative rate', () => {
    const quiet = new GatewayHeartbeat({ id: 'gw-2', environment, version: '1', intervalMs: 1_000 }, store, () => state, pino({ level: 'silent' }));
    state.answered = 100;
    expect(quiet.presence(10_000).requestsPerSecond).toBe(0);
    state.answered = 350;
    expect(quiet.presence(12_000).requestsPerSecond).toBe(125);
    // A proxy left and took its count with it.
    state.answered = 10;
    expect(quiet.presence(13_000).requestsPerSecond).toBe(0);
  });
});
