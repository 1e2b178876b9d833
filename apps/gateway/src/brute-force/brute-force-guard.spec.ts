import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BruteForceStore, bruteForceKeys, type BruteForceSettings } from '@idm/config-bus';
import { OAuthError } from '@idm/tokens';
import { eventually } from '@idm/test-kit';
import Redis from 'ioredis';
import pino from 'pino';
import { TokenFailureLimits } from '../token-service/token-failure-limits';
import { BlockAlerts } from './block-alerts';
import { BlockMirror } from './block-mirror';
import { attemptedCredential, BruteForceGuard, environmentDetectors } from './brute-force-guard';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Gateways (each its own command and subscriber connection) sharing counters and blocks on the real Redis, alerting a real webhook. */
describe('BruteForceGuard on a real Redis', () => {
  const environment = `bf-guard-${randomBytes(4).toString('hex')}`;
  const settings: BruteForceSettings = {
    perCredential: 4,
    perAddress: 50,
    perCredentialAddress: 50,
    windowSeconds: 60,
    lockoutSeconds: 30,
    maxLockoutSeconds: 120,
    strikeMemorySeconds: 60,
  };
  const log = pino({ level: 'silent' });
  const connections: Redis[] = [];
  const mirrors: BlockMirror[] = [];
  let webhook: Server;
  let webhookUrl: string;
  const received: { status: number; body: unknown }[] = [];
  /** Answers given to the webhook's calls in order (then 204). */
  const answers: number[] = [];

  const gateway = async (alertUrl: string | null = null): Promise<BruteForceGuard> => {
    const redis = new Redis(REDIS_URL);
    const subscriber = new Redis(REDIS_URL);
    connections.push(redis, subscriber);
    const mirror = new BlockMirror(redis, subscriber, environment, Date.now, () => undefined);
    mirrors.push(mirror);
    mirror.start();
    await eventually(() => mirror.loaded, Boolean, { what: 'first load', intervalMs: 10 });
    return new BruteForceGuard(
      new BruteForceStore(redis, environment),
      mirror,
      environmentDetectors(settings),
      new BlockAlerts({ url: alertUrl, attempts: 3, retryDelayMs: 50 }, environment, log),
      log,
    );
  };
  const credential = (name: string) => attemptedCredential(`p1:${name}`, name, 'p1');

  beforeAll(async () => {
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const status = answers.shift() ?? 204;
        received.push({ status, body: JSON.parse(body) });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
    webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/alerts`;
  });

  afterAll(async () => {
    for (const m of mirrors) m.stop();
    const cleanup = new Redis(REDIS_URL);
    const keys = await cleanup.keys(`{idm:bf:${environment}}:*`);
    if (keys.length) await cleanup.del(...keys);
    expect(await cleanup.keys(`*${environment}*`)).toEqual([]);
    cleanup.disconnect();
    for (const c of connections) c.disconnect();
    await new Promise((r) => webhook.close(r));
  });

  it('enforces a block reached on one Gateway on another within a second, without asking Redis', async () => {
    const [a, b] = [await gateway(), await gateway()];
    for (let i = 0; i < 3; i++) await (i % 2 ? a : b).failed({ credential: credential('alice'), address: `10.0.0.${i}`, source: 'proxy' });
    expect(b.blocked(credential('alice'), '10.0.0.9')).toBeNull();
    await a.failed({ credential: credential('alice'), address: '10.0.0.3', source: 'proxy' });
    const blockedAt = Date.now();
    expect(a.blocked(credential('alice'), '10.0.0.9')).toEqual({ code: 'credential_locked', retryAfterSeconds: 30 });
    await eventually(
      () => b.blocked(credential('alice'), '10.0.0.9'),
      (v) => v !== null,
      { what: 'the block on the other Gateway', intervalMs: 5 },
    );
    expect(Date.now() - blockedAt).toBeLessThan(1_000);
    // Other users and the address itself are not affected.
    expect(b.blocked(credential('bob'), '10.0.0.3')).toBeNull();
    expect(b.blocked(null, '10.0.0.3')).toBeNull();
  });

  it('loads the blocks in force into a Gateway started later, and drops a lifted one everywhere', async () => {
    const late = await gateway();
    expect(late.blocked(credential('alice'), '10.5.5.5')?.code).toBe('credential_locked');
    const other = await gateway();
    const [block] = await new BruteForceStore(connections[0], environment).list(Date.now());
    await new BruteForceStore(connections[0], environment).lift(block.id);
    await eventually(() => [late, other].every((g) => g.blocked(credential('alice'), '10.5.5.5') === null), Boolean, { what: 'the lift on both', intervalMs: 5 });
  });

  it('ignores a malformed message on the channel', async () => {
    const g = await gateway();
    await connections[0].publish(bruteForceKeys(environment).events, '{"block":{"id":"x"}}');
    await connections[0].publish(bruteForceKeys(environment).events, 'not json');
    await new Promise((r) => setTimeout(r, 100));
    expect(g.mirrored.size).toBe(0);
  });

  it('alerts the webhook once per block, retrying 503s with a growing wait', async () => {
    const g = await gateway(webhookUrl);
    answers.push(503, 503);
    for (let i = 0; i < 4; i++) await g.failed({ credential: credential('dave'), address: '10.7.7.7', source: 'proxy' });
    await eventually(
      () => received.length,
      (n) => n >= 3,
      { what: 'three webhook calls' },
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(received.map((r) => r.status)).toEqual([503, 503, 204]);
    expect(received[2].body).toEqual({
      type: 'brute-force.blocked',
      environment,
      block: expect.objectContaining({ detector: 'credential', credential: 'dave', projectId: 'p1', failures: 4, strike: 1, until: expect.any(String) }),
    });
    expect(JSON.stringify(received[2].body)).not.toContain('p1:dave');
  });

  it('refuses a blocked token client with 429 slow_down and Retry-After, also with the right secret', async () => {
    const limits = new TokenFailureLimits(await gateway());
    const subject = { surface: 'credential', clientId: 'app', address: '10.8.8.8' };
    for (let i = 0; i < 4; i++) await limits.clientFailed(subject);
    let refused: unknown = null;
    try {
      limits.check(subject);
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(OAuthError);
    expect(refused).toMatchObject({ code: 'slow_down', status: 429 });
    expect((refused as OAuthError).retryAfterSeconds).toBe(30);
    expect(() => limits.check({ ...subject, clientId: 'other' })).not.toThrow();
  });
});
