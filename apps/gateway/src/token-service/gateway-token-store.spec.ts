import type { TokenLookupReply, TokenPersistJob } from '@idm/config-bus';
import { OpaqueTokenStore } from '@idm/tokens';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { of } from 'rxjs';
import { GatewayTokenStore } from './gateway-token-store';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * The Manager's `tokens.lookup` reply is parsed on receipt: a copy whose record is not a token
 * record is logged and treated as no copy, never served as a token.
 */
describe('GatewayTokenStore: durable copies read back over the bus', () => {
  const redis = new Redis(REDIS_URL);
  const keyPrefix = `test:gw-tokens:${randomBytes(6).toString('hex')}`;
  const environment = `env-${randomBytes(3).toString('hex')}`;
  const jobs: TokenPersistJob[] = [];
  const logs: { msg: string; reason?: string }[] = [];
  const log = pino({ level: 'warn' }, new Writable({ write: (chunk, _e, done) => (logs.push(JSON.parse(String(chunk))), done()) }));
  let reply: unknown = null;
  const bus = { send: <T>() => of(reply as T) };
  const queue = { add: async (_name: string, job: TokenPersistJob) => void jobs.push(job) } as never;
  const store = new GatewayTokenStore(new OpaqueTokenStore(redis, { keyPrefix }), redis, queue, bus, environment, 1000, log);

  afterAll(async () => {
    const keys = await redis.keys(`${keyPrefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  /** An access token Redis has lost, and the reply a Manager gives for it from the queued job. */
  async function lostAccessToken(): Promise<{ token: string; copy: NonNullable<TokenLookupReply> }> {
    const queued = jobs.length;
    const issued = await store.issue({ clientId: 'client-a', subject: 'alice', scope: 'read', environment }, { accessTokenSeconds: 300 });
    const job = jobs.slice(queued).find((j) => j.op === 'issue' && j.kind === 'access');
    if (job?.op !== 'issue') throw new Error('no issue job queued');
    const keys = await redis.keys(`${keyPrefix}:*`);
    if (keys.length) await redis.del(...keys);
    return { token: issued.accessToken, copy: { kind: job.kind, familyId: job.familyId, record: job.record, expiresAt: job.expiresAt } };
  }

  it('serves the copy the Manager returns as it was queued', async () => {
    const { token, copy } = await lostAccessToken();
    reply = copy;
    expect(await store.lookup(token)).toMatchObject({ clientId: 'client-a', subject: 'alice', scope: 'read', environment, kind: 'access' });
  });

  it('refuses a malformed reply: logged, and the token is unknown', async () => {
    const { token, copy } = await lostAccessToken();
    const { expiresAt: _dropped, ...recordWithoutExpiry } = copy.record;
    for (const malformed of [{ ...copy, record: recordWithoutExpiry }, { ...copy, record: { ...copy.record, refreshCount: 'none' } }, { ...copy, kind: 'bearer' }, 'not a reply']) {
      reply = malformed;
      logs.length = 0;
      expect(await store.lookup(token)).toBeNull();
      expect(logs).toEqual([expect.objectContaining({ msg: 'malformed tokens.lookup reply ignored', reason: expect.any(String) })]);
    }
  });
});
