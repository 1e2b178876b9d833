import { randomBytes } from 'node:crypto';
import { OAuthError } from '@idm/tokens';
import Redis from 'ioredis';
import pino from 'pino';
import { TokenFailureLimits, type FailureSubject } from './token-failure-limits';
import { eventually } from '@idm/test-kit';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function refusal(run: () => void): OAuthError | null {
  try {
    run();
    return null;
  } catch (err) {
    if (err instanceof OAuthError) return err;
    throw err;
  }
}

/** Gateways (each its own command and subscriber connection) sharing failure blocks on the real Redis. */
describe('TokenFailureLimits on a real Redis', () => {
  const prefix = `test:token-failures:${randomBytes(6).toString('hex')}`;
  const settings = { perAccount: 3, perAddress: 100, windowSeconds: 60 };
  const log = pino({ level: 'silent' });
  const connections: Redis[] = [];
  const instances: TokenFailureLimits[] = [];
  let offset = 0;
  const clock = () => Date.now() + offset;

  const gateway = async (): Promise<{ limits: TokenFailureLimits; redis: Redis }> => {
    const redis = new Redis(REDIS_URL);
    const subscriber = new Redis(REDIS_URL);
    connections.push(redis, subscriber);
    const limits = new TokenFailureLimits(redis, subscriber, prefix, settings, log, clock);
    instances.push(limits);
    limits.start();
    await eventually(() => limits.loaded, Boolean, { what: 'first load', intervalMs: 10 });
    return { limits, redis };
  };
  const subject = (clientId: string, address = '10.0.0.1', username?: string): FailureSubject => ({
    surface: 'credential',
    clientId,
    address,
    ...(username !== undefined && { username }),
  });

  afterAll(async () => {
    for (const limits of instances) limits.stop();
    const cleanup = new Redis(REDIS_URL);
    const keys = await cleanup.keys(`${prefix}:*`);
    if (keys.length > 0) await cleanup.del(...keys);
    expect(await cleanup.keys(`${prefix}*`)).toEqual([]);
    cleanup.disconnect();
    for (const c of connections) c.disconnect();
  });

  it('shares a block reached on one Gateway with another, whose check asks Redis nothing', async () => {
    const [a, b] = [await gateway(), await gateway()];
    const victim = subject('app-1');
    for (let i = 0; i < 2; i++) await a.limits.clientFailed(victim);
    expect(refusal(() => a.limits.check(victim))).toBeNull();
    await a.limits.clientFailed(victim);
    const onA = refusal(() => a.limits.check(victim));
    expect(onA).toMatchObject({ code: 'slow_down', status: 429 });
    expect(onA!.retryAfterSeconds).toBeGreaterThan(0);
    expect(onA!.retryAfterSeconds).toBeLessThanOrEqual(60);

    const commands = jest.spyOn(b.redis, 'sendCommand');
    await eventually(() => refusal(() => b.limits.check(victim)) !== null, Boolean, { what: 'the block on the other gateway', intervalMs: 10 });
    expect(refusal(() => b.limits.check(victim))).toMatchObject({ code: 'slow_down', status: 429 });
    // Per client id, from any address; other clients and the address itself stay free.
    expect(refusal(() => b.limits.check(subject('app-1', '10.9.9.9')))).not.toBeNull();
    expect(refusal(() => b.limits.check(subject('app-2')))).toBeNull();
    expect(commands).not.toHaveBeenCalled();
    commands.mockRestore();
  });

  it('blocks a resource owner (password grant) without blocking its client', async () => {
    const [a, b] = instances;
    const owner = subject('app-3', '10.0.0.2', 'alice with spaces');
    for (let i = 0; i < 3; i++) await a.ownerFailed(owner);
    await eventually(() => refusal(() => b.check(owner)) !== null, Boolean, { what: 'the owner block on the other gateway', intervalMs: 10 });
    expect(refusal(() => b.check(subject('app-3', '10.0.0.2', 'bob')))).toBeNull();
    expect(refusal(() => b.check(subject('app-3', '10.0.0.2')))).toBeNull();
  });

  it('loads the blocks in force into a Gateway started later', async () => {
    const late = await gateway();
    expect(refusal(() => late.limits.check(subject('app-1')))).toMatchObject({ code: 'slow_down' });
    expect(refusal(() => late.limits.check(subject('app-3', '10.0.0.2', 'alice with spaces')))).toMatchObject({ code: 'slow_down' });
    expect(refusal(() => late.limits.check(subject('app-2')))).toBeNull();
  });

  it('lets a block end with its wait, prunes it locally and does not load it again', async () => {
    const [a] = instances;
    expect(a.blockCount).toBeGreaterThanOrEqual(2);
    offset = 61_000;
    try {
      expect(refusal(() => a.check(subject('app-1')))).toBeNull();
      a.prune();
      expect(a.blockCount).toBe(0);
      const fresh = await gateway();
      expect(fresh.limits.blockCount).toBe(0);
      expect(refusal(() => fresh.limits.check(subject('app-1')))).toBeNull();
    } finally {
      offset = 0;
    }
  });
});
