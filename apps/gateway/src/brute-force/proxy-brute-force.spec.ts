import { randomBytes } from 'node:crypto';
import { BruteForceStore, type BruteForceSettings } from '@idm/config-bus';
import { createRequestContext } from '@idm/policies';
import { eventually } from '@idm/test-kit';
import Redis from 'ioredis';
import pino from 'pino';
import { BlockAlerts } from './block-alerts';
import { BlockMirror } from './block-mirror';
import { BruteForceGuard, environmentDetectors } from './brute-force-guard';
import { ProxyBruteForce, type AuthDecision } from './proxy-brute-force';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** What the proxy path counts as a guess (from the auth records) and what it refuses, on a real Redis. */
describe('ProxyBruteForce', () => {
  const environment = `bf-proxy-${randomBytes(4).toString('hex')}`;
  const settings: BruteForceSettings = {
    perCredential: 2,
    perAddress: 3,
    perCredentialAddress: 0,
    windowSeconds: 60,
    lockoutSeconds: 30,
    maxLockoutSeconds: 60,
    strikeMemorySeconds: 60,
  };
  const redis = new Redis(REDIS_URL);
  const subscriber = new Redis(REDIS_URL);
  const log = pino({ level: 'silent' });
  const mirror = new BlockMirror(redis, subscriber, environment, Date.now, () => undefined);
  const guard = new BruteForceGuard(
    new BruteForceStore(redis, environment),
    mirror,
    environmentDetectors(settings),
    new BlockAlerts({ url: null, attempts: 1, retryDelayMs: 1 }, environment, log),
    log,
  );
  const proxy = new ProxyBruteForce(guard, (id) => (id === 'proxy-1' ? 'project-1' : undefined));
  const decision = (d: Partial<AuthDecision>): AuthDecision => ({
    proxyId: 'proxy-1',
    policy: 'basic-auth',
    reason: 'invalid_credentials',
    username: 'alice',
    clientIp: '10.0.0.1',
    ...d,
  });
  const ctx = (clientIp: string, claimed: string | null, policy = 'basic-auth') =>
    Object.assign(createRequestContext({ method: 'GET', path: '/x', headers: {}, query: '', clientIp }), { claimedUsername: claimed, policy });
  const counted = async () => (await redis.keys(`{idm:bf:${environment}}:n:*`)).length + (await redis.hlen(`{idm:bf:${environment}}:blocks`));

  beforeAll(async () => {
    mirror.start();
    await eventually(() => mirror.loaded, Boolean, { what: 'first load', intervalMs: 10 });
  });

  afterAll(async () => {
    mirror.stop();
    const keys = await redis.keys(`{idm:bf:${environment}}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    subscriber.disconnect();
  });

  it('counts no decision that is not a wrong secret of a password or API key policy', async () => {
    for (const d of [
      decision({ reason: 'missing_credentials' }),
      decision({ reason: 'malformed_credentials' }),
      decision({ reason: 'credential_disabled' }),
      decision({ reason: null }),
      decision({ policy: 'jwt-auth', reason: 'invalid_token' }),
      decision({ policy: 'token-endpoint:/credential/token', reason: 'invalid_credentials' }),
      decision({ proxyId: null }),
      decision({ policy: 'rate-limit', reason: 'rate_limited' }),
    ])
      proxy.countFailure(d);
    await new Promise((r) => setTimeout(r, 100));
    expect(await counted()).toBe(0);
  });

  it("locks a project's username after wrong passwords, refusing it even when the chain let it through, and nobody else", async () => {
    proxy.countFailure(decision({ clientIp: '10.0.0.1' }));
    proxy.countFailure(decision({ policy: 'digest-auth', clientIp: '10.0.0.2' }));
    await eventually(() => proxy.credentialRefusal(ctx('10.0.0.9', 'alice'), 'project-1', undefined), Boolean, { what: 'the lock', intervalMs: 10 });
    const authenticated = ctx('10.0.0.9', null);
    authenticated.identity = { credentialId: 'c1', username: 'alice', projectId: 'project-1' };
    expect(proxy.credentialRefusal(authenticated, 'project-1', undefined)).toMatchObject({
      status: 429,
      code: 'credential_locked',
      outcome: 'blocked',
      headers: { 'retry-after': '30' },
    });
    expect(proxy.credentialRefusal(ctx('10.0.0.9', 'alice'), 'project-2', undefined)).toBeUndefined();
    expect(proxy.credentialRefusal(ctx('10.0.0.9', 'bob'), 'project-1', undefined)).toBeUndefined();
    // An external IdP's user id (the oidc policy's claim) that happens to equal the locked username names no credential here.
    expect(proxy.credentialRefusal(ctx('10.0.0.9', 'alice', 'oidc'), 'project-1', undefined)).toBeUndefined();
    expect(proxy.addressRefusal('10.0.0.1')).toBeNull();
  });

  it('counts wrong API keys per address only, and blocks the address before the chain', async () => {
    for (let i = 0; i < 3; i++) proxy.countFailure(decision({ policy: 'api-key', reason: 'invalid_api_key', username: null, clientIp: '10.0.0.5' }));
    await eventually(() => proxy.addressRefusal('10.0.0.5'), Boolean, { what: 'the address block', intervalMs: 10 });
    expect(proxy.addressRefusal('10.0.0.5')).toMatchObject({ status: 429, code: 'address_blocked', outcome: 'blocked' });
    expect(proxy.addressRefusal('10.0.0.6')).toBeNull();
  });
});
