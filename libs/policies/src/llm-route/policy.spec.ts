import { generateApiKey } from '@idm/domain';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { configSnapshot, snapshotCredential, snapshotProxy } from '@idm/test-kit';
import { compileEnvironment } from '../compiled-environment';
import { createRequestContext, type PolicyRejection } from '../policy';
import { LlmCall, type LlmRoutePolicy } from './policy';
import { RedisTokenQuotaStore } from './redis-token-quota.store';

/** The llm-route policy's admission and accounting on real Redis (127.0.0.1:6379), a unique prefix per run. */
describe('llm-route (real Redis)', () => {
  const prefix = `idm-test:llm:${randomBytes(4).toString('hex')}:`;
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const key = generateApiKey();
  const connections: Redis[] = [];
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(redisUrl);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    for (const c of connections) c.disconnect();
  });

  async function connection(url = redisUrl): Promise<Redis> {
    const c = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => {});
    connections.push(c);
    if (url === redisUrl) await new Promise((ready) => c.once('ready', ready));
    return c;
  }

  /** One "Gateway": the compiled LLM route on a store of its own connection. */
  async function gateway(options: { id: string; llm?: Record<string, unknown>; route?: Record<string, unknown>; url?: string; errors?: unknown[] }) {
    const snapshot = configSnapshot({
      environment: 't',
      proxies: [
        snapshotProxy({
          id: `p-${options.id}`,
          projectId: `project-${options.id}`,
          name: 'llm',
          basePath: '/llm',
          upstreamUrl: 'http://127.0.0.1:1',
          methods: ['POST'],
          policies: [
            { type: 'api-key', config: {} },
            { type: 'llm-route', config: options.route ?? {} },
          ],
        }),
      ],
      credentials: [
        snapshotCredential({
          id: `c-${options.id}`,
          projectId: `project-${options.id}`,
          username: 'a',
          access: options.llm ? { llm: options.llm } : {},
          apiKeys: [{ id: 'k', prefix: key.prefix, hash: key.hash, expiresAt: null }],
        }),
      ],
    });
    const store = new RedisTokenQuotaStore(await connection(options.url), prefix);
    const proxy = compileEnvironment(snapshot, { tokenQuotaStore: store, onRateLimitStoreError: (e) => options.errors?.push(e) }).route('/llm')!;
    expect(proxy.unavailable).toBeNull();
    /** Runs the chain, then admits `body`: the call, or the rejection. */
    return async (body: unknown): Promise<LlmCall | PolicyRejection> => {
      const ctx = createRequestContext({ method: 'POST', path: '/llm/v1/chat/completions', headers: { 'x-api-key': key.key }, query: '', clientIp: '10.0.0.1' });
      expect(await proxy.runPolicies(ctx)).toBeUndefined();
      return (proxy.llm as LlmRoutePolicy).admit(ctx, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), Date.now());
    };
  }

  /** Answers the call as an upstream would: a JSON body with this usage (or none). */
  function answer(call: LlmCall, usage: Record<string, number> | null, status = 200) {
    const meter = call.answered(status, 'application/json');
    meter?.observe(Buffer.from(JSON.stringify({ choices: [{ message: { content: 'fine' } }], ...(usage ? { usage } : {}) })));
    return call.settle(Date.now());
  }
  const used = async (scope: string, period: string) => Number((await redis.get((await redis.keys(`${prefix}llm:${scope}:${period}:*`))[0] ?? 'none')) ?? 0);
  const chat = (content = 'Say hello', model = 'gpt-4o-mini') => ({ model, messages: [{ role: 'user', content }] });
  const settleSoon = () => new Promise((r) => setTimeout(r, 50));

  it('refuses a model outside the credential allow-list and malformed requests before any counting', async () => {
    const call = await gateway({ id: randomBytes(3).toString('hex'), llm: { models: ['gpt-4o-mini'] } });
    expect(await call(chat('x', 'gpt-4o'))).toMatchObject({ status: 403, code: 'llm_model_denied' });
    expect(await call({ model: 42, messages: [] })).toMatchObject({ status: 400, code: 'llm_invalid_request' });
    expect(await call('not json')).toMatchObject({ status: 400, code: 'llm_invalid_request' });
    expect(await call(chat('x', 'gpt-4o-mini'))).toBeInstanceOf(LlmCall);
  });

  it('shares a credential quota exactly between two stores: usage charged, the overrun refused next', async () => {
    const id = randomBytes(3).toString('hex');
    const a = await gateway({ id, llm: { tokenQuotas: [{ limit: 1000, period: 'day' }] } });
    const b = await gateway({ id, llm: { tokenQuotas: [{ limit: 1000, period: 'day' }] } });
    const spends: number[] = [];
    for (let i = 0; ; i++) {
      const call = await (i % 2 === 0 ? a : b)(chat());
      if (!(call instanceof LlmCall)) {
        expect(call).toMatchObject({ status: 429, code: 'llm_token_quota_exceeded', headers: { 'retry-after': expect.stringMatching(/^\d+$/) } });
        break;
      }
      // 300 tokens each: the fourth call is admitted (900 < 1000) and charged past the limit.
      spends.push(answer(call, { prompt_tokens: 100, completion_tokens: 200, total_tokens: 300 }).totalTokens);
      await settleSoon();
    }
    expect(spends).toEqual([300, 300, 300, 300]);
    expect(await used(`c:c-${id}`, 'day')).toBe(1200);
  });

  it('refuses a prompt whose estimate exceeds what is left, before it goes upstream', async () => {
    const id = randomBytes(3).toString('hex');
    const call = await gateway({ id, route: { projectTokenQuotas: [{ limit: 500, period: 'day' }] } });
    const big = await call(chat('word '.repeat(1000)));
    expect(big).toMatchObject({
      status: 429,
      code: 'llm_token_estimate_exceeds_quota',
      message: expect.stringMatching(/estimated at \d+ tokens, more than the 500 left of 500 tokens per day/),
    });
    expect(await used(`p:project-${id}`, 'day')).toBe(0);
    // A small one fits; without usage in the answer its estimate (prompt + generated text) is charged.
    const small = (await call(chat('hi'))) as LlmCall;
    const spend = answer(small, null);
    expect(spend).toMatchObject({ source: 'estimate', completionTokens: 1 });
    await settleSoon();
    expect(await used(`p:project-${id}`, 'day')).toBe(spend.totalTokens);
  });

  it('charges nothing for an upstream refusal and reserves concurrent calls so they cannot share a remainder', async () => {
    const id = randomBytes(3).toString('hex');
    const a = await gateway({ id, llm: { tokenQuotas: [{ limit: 100, period: 'month' }] } });
    const refused = (await a(chat())) as LlmCall;
    expect(answer(refused, null, 500)).toMatchObject({ source: 'none', totalTokens: 0 });
    await settleSoon();
    expect(await used(`c:c-${id}`, 'month')).toBe(0);
    // Each prompt is estimated at 30-odd tokens: of 20 concurrent calls only as many as fit are admitted.
    const prompt = 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon';
    const calls = await Promise.all(Array.from({ length: 20 }, () => a(chat(prompt))));
    const admitted = calls.filter((c): c is LlmCall => c instanceof LlmCall);
    const estimate = admitted[0].request.promptEstimate;
    expect(admitted.length).toBe(Math.floor(100 / estimate));
    expect(await used(`c:c-${id}`, 'month')).toBe(admitted.length * estimate);
    for (const c of admitted) answer(c, { prompt_tokens: 1, completion_tokens: 1 });
    await settleSoon();
    expect(await used(`c:c-${id}`, 'month')).toBe(admitted.length * 2);
  });

  it('follows onStoreUnavailable when Redis cannot answer', async () => {
    const errors: unknown[] = [];
    const dead = 'redis://127.0.0.1:1';
    const open = await gateway({ id: randomBytes(3).toString('hex'), llm: { tokenQuotas: [{ limit: 10, period: 'day' }] }, url: dead, errors });
    expect(await open(chat())).toBeInstanceOf(LlmCall);
    const closed = await gateway({
      id: randomBytes(3).toString('hex'),
      route: { projectTokenQuotas: [{ limit: 10, period: 'day' }], onStoreUnavailable: 'deny' },
      url: dead,
      errors,
    });
    expect(await closed(chat())).toMatchObject({ status: 503, code: 'rate_limit_unavailable' });
    expect(errors.length).toBe(2);
  });
});
