import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { AUTH_RECORDS_STREAM, authRecordEntrySchema, type AuthRecord } from '@idm/config-bus';
import { eventually, type AppProcess } from '@idm/test-kit';
import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';

/**
 * An OpenAI-compatible upstream written here: the model name picks the behaviour (JSON or SSE,
 * with or without usage, malformed). Streamed answers wait for `release()` after their first
 * event, so a test can prove the Gateway passes events on before the answer is complete.
 */
class FakeOpenAi {
  readonly received: Record<string, unknown>[] = [];
  private server!: Server;
  private hold: Promise<void> = Promise.resolve();
  private releaseHeld: () => void = () => {};
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.answer(req, res));
    await new Promise<void>((ready) => this.server.listen(0, '127.0.0.1', ready));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The next streamed answers stop after their first event until release(). */
  holdStreams(): void {
    this.hold = new Promise((resolve) => (this.releaseHeld = resolve));
  }
  release(): void {
    this.releaseHeld();
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((done) => this.server.close(() => done()));
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { model: string; stream?: boolean; stream_options?: { include_usage?: boolean } };
    this.received.push({ ...body, acceptEncoding: req.headers['accept-encoding'] });
    const usage = { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 };
    const message = { id: 'cmpl-1', object: 'chat.completion', model: body.model, choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there, friend.' } }] };
    switch (body.model) {
      case 'json-usage':
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...message, usage }));
      case 'json-no-usage':
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(message));
      case 'malformed-json':
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices": [{"message": {"content": "cut');
      case 'refused':
        return void res.writeHead(429, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'slow down' } }));
      default: {
        // sse-*: streamed; usage in a last chunk only when asked for (and only for sse-usage).
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        const event = (data: unknown) => res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
        const delta = (content: string) => ({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] });
        event(delta('Hello'));
        await this.hold;
        if (body.model === 'malformed-sse') res.write('data: {"choices": [{"delta": \n\nnot an event at all\n\n');
        event(delta(' there, friend.'));
        if (body.model === 'sse-usage' && body.stream_options?.include_usage === true)
          event({ id: 'c', choices: [], usage: { prompt_tokens: 5, completion_tokens: 15, total_tokens: 20 } });
        event('[DONE]');
        res.end();
      }
    }
  }
}

describe('LLM routes on two Gateways', () => {
  const ENV = 'llm';
  let cluster: Cluster;
  let gateways: AppProcess[];
  let admin: AdminClient;
  let redis: Redis;
  const upstream = new FakeOpenAi();
  let projectId: string;
  let proxyId: string;
  const keys: Record<string, string> = {};
  const ids: Record<string, string> = {};

  const chat = (g: AppProcess, apiKey: string | null, body: unknown) =>
    fetch(`${g.baseUrl}/ai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(apiKey === null ? {} : { 'x-api-key': apiKey }) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const ask = async (g: AppProcess, who: string, model: string, extra: Record<string, unknown> = {}) => {
    const res = await chat(g, keys[who], { model, messages: [{ role: 'user', content: 'Say hello' }], ...extra });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
  /** Tokens charged to a counter, once the settle (after the answer) has landed. */
  const spent = async (scope: string, period = 'day') => {
    const found = await redis.keys(`{idm:rl:${ENV}}:llm:${scope}:${period}:*`);
    return found.length === 0 ? 0 : Number(await redis.get(found[0]));
  };
  const spentSettles = (scope: string, expected: number, period?: string) =>
    eventually(
      () => spent(scope, period),
      (n) => n === expected,
      { what: `${scope} at ${expected}` },
    );
  const createCredential = async (name: string, llm?: unknown) => {
    const c = await admin.credentials.create(projectId, { username: name, ...(llm ? { access: { llm } } : {}) } as never);
    keys[name] = c.apiKey!.key;
    ids[name] = c.id;
  };
  /** Every auth record the Gateways queued so far (the stream the indexers read). */
  const authRecords = async (): Promise<AuthRecord[]> =>
    (await redis.xrange(AUTH_RECORDS_STREAM, '-', '+')).flatMap(([, fields]) => authRecordEntrySchema.parse(JSON.parse(fields[1])));
  const raw = (method: string, path: string, body: unknown) =>
    fetch(`${cluster.manager.baseUrl}/api/v1${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${(admin as unknown as { token: string }).token}` },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    await upstream.start();
    cluster = await startCluster({ environment: ENV });
    ({ gateways, admin } = cluster);
    redis = new Redis(cluster.redis.url);
    projectId = (await admin.projects.create({ name: 'ai' })).id;
    const proxy = await admin.proxies.create(projectId, {
      name: 'openai',
      basePath: '/ai',
      upstreamUrl: upstream.url,
      methods: ['GET', 'POST'],
      policies: [
        { type: 'api-key', config: {} },
        { type: 'llm-route', config: { projectTokenQuotas: [{ limit: 1_000_000, period: 'month' }], maxRequestBytes: 65536 } },
      ],
      environments: [ENV],
    });
    proxyId = proxy.id;
    await createCredential('metered', { models: ['json-usage', 'json-no-usage', 'sse-usage', 'sse-no-usage', 'malformed-json', 'malformed-sse', 'refused'] });
    await createCredential('quota', { tokenQuotas: [{ limit: 100, period: 'day' }] });
    await createCredential('crowd', { tokenQuotas: [{ limit: 1000, period: 'day' }] });
    await createCredential('free');
    await Promise.all(
      gateways.map((g) =>
        eventually(
          () => ask(g, 'free', 'json-usage'),
          (r) => r.status === 200,
          { what: `${g.name} serves the LLM route` },
        ),
      ),
    );
  }, 120000);

  afterAll(async () => {
    redis?.disconnect();
    await cluster?.stop();
    await upstream.close();
  }, 30000);

  it('keeps the Manager honest: LLM settings are validated, returned and refused with the reason', async () => {
    const bad = await raw('PATCH', `/projects/${projectId}/credentials/${ids.free}`, { access: { llm: { tokenQuotas: [{ limit: 0, period: 'week' }], models: ['bad model'] } } });
    expect(bad.status).toBe(400);
    const problem = JSON.stringify(await bad.json());
    for (const path of ['access.llm.tokenQuotas.0.limit', 'access.llm.tokenQuotas.0.period', 'access.llm.models.0']) expect(problem).toContain(path);
    const twice = await raw('PATCH', `/projects/${projectId}/credentials/${ids.free}`, {
      access: {
        llm: {
          tokenQuotas: [
            { limit: 5, period: 'day' },
            { limit: 6, period: 'day' },
          ],
        },
      },
    });
    expect(twice.status).toBe(400);
    const badRoute = await raw('PATCH', `/projects/${projectId}/proxies/${proxyId}`, { policies: [{ type: 'llm-route', config: { projectTokenQuotas: 'lots', unknown: 1 } }] });
    expect(badRoute.status).toBe(400);
    expect(JSON.stringify(await badRoute.json())).toContain('projectTokenQuotas');
    expect((await admin.credentials.get(projectId, ids.quota)).access).toEqual({
      llm: { models: null, tokenQuotas: [{ limit: 100, period: 'day' }], onStoreUnavailable: 'allow' },
    });
  });

  it('applies the route’s authentication and the credential’s model allow-list on both Gateways', async () => {
    for (const g of gateways) {
      const anonymous = await chat(g, null, { model: 'json-usage', messages: [] });
      expect(anonymous.status).toBe(401);
      expect((await anonymous.json()).code).toBe('missing_credentials');
      const denied = await ask(g, 'metered', 'gpt-4o');
      expect(denied.status).toBe(403);
      expect(JSON.parse(denied.text).code).toBe('llm_model_denied');
    }
    expect(upstream.received.some((r) => r.model === 'gpt-4o')).toBe(false);
  });

  it('refuses malformed calls, wrong types and huge bodies before the upstream sees them', async () => {
    const before = upstream.received.length;
    const g = gateways[0];
    for (const body of [
      '{"model": ',
      '[]',
      { model: 7, messages: [] },
      { model: ['json-usage'] },
      { model: 'json-usage', stream: 'yes' },
      { model: 'json-usage', stream: true, stream_options: 3 },
    ]) {
      const res = await chat(g, keys.free, body);
      expect(res.status).toBe(400);
      expect((await res.json()).code).toBe('llm_invalid_request');
    }
    const huge = await chat(g, keys.free, { model: 'json-usage', messages: [{ role: 'user', content: 'x'.repeat(100_000) }] });
    expect(huge.status).toBe(413);
    expect((await huge.json()).code).toBe('llm_request_too_large');
    expect(upstream.received.length).toBe(before);
  });

  it('counts JSON usage and enforces a credential quota exactly across both Gateways', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await ask(gateways[i % 2], 'quota', 'json-usage');
      statuses.push(r.status);
      if (r.status === 200) await spentSettles(`c:${ids.quota}`, 30 * statuses.filter((s) => s === 200).length);
      else {
        expect(JSON.parse(r.text).code).toBe('llm_token_quota_exceeded');
        expect(r.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      }
    }
    // 0, 30, 60, 90 are below 100: four calls go through, the fourth overruns to 120, the rest are refused.
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    expect(await spent(`c:${ids.quota}`)).toBe(120);
    // Each call is one auth record: the admitted ones with their token spend, the refused ones throttled with the reason.
    const records = await eventually(
      () => authRecords().then((all) => all.filter((r) => r.credentialId === ids.quota)),
      (r) => r.length === 6,
      { what: 'six auth records of the quota credential' },
    );
    expect(records.filter((r) => r.outcome === 'success').map((r) => [r.gatewayId, r.policy, r.llm])).toEqual(
      Array.from({ length: 4 }, () => [expect.any(String), 'api-key', { model: 'json-usage', promptTokens: 10, completionTokens: 20, totalTokens: 30, estimated: false }]),
    );
    expect(new Set(records.map((r) => r.gatewayId)).size).toBe(2);
    expect(records.filter((r) => r.outcome !== 'success').map((r) => [r.outcome, r.reason, r.policy, r.status, r.llm ?? null])).toEqual([
      ['throttled', 'llm_token_quota_exceeded', 'llm-route', 429, null],
      ['throttled', 'llm_token_quota_exceeded', 'llm-route', 429, null],
    ]);
    // Token spend is also a metric per proxy, kind and source.
    const metrics = await fetch(`${gateways[1].baseUrl}/metrics`).then((r) => r.text());
    expect(Number(/^idm_gateway_llm_tokens_total\{proxy="openai",kind="completion",source="upstream"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(40);
  });

  it('streams SSE chunk by chunk, asks for usage in the last chunk and counts it', async () => {
    const before = await spent(`p:${projectId}`, 'month');
    upstream.holdStreams();
    const res = await chat(gateways[1], keys.metered, { model: 'sse-usage', stream: true, messages: [{ role: 'user', content: 'Say hello' }] });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    // The upstream holds the rest of its answer until released: this event can only be here if the Gateway did not buffer.
    const first = await Promise.race([reader.read(), new Promise<never>((_, fail) => setTimeout(() => fail(new Error('the first event was held back')), 5000))]);
    expect(Buffer.from(first.value!).toString()).toContain('"content":"Hello"');
    upstream.release();
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += Buffer.from(chunk.value).toString();
    expect(rest).toContain('"usage":{"prompt_tokens":5');
    expect(rest).toContain('[DONE]');
    const sent = upstream.received.at(-1)!;
    expect(sent).toMatchObject({ stream_options: { include_usage: true }, acceptEncoding: 'identity' });
    // Every call of the project counts in its quota: this one by the usage of its last chunk.
    await spentSettles(`p:${projectId}`, before + 20, 'month');
  });

  it('estimates with the tokenizer when the upstream reports no usage, malformed answers included', async () => {
    const project = `p:${projectId}`;
    let total = await spent(project, 'month');
    for (const [model, stream] of [
      ['json-no-usage', false],
      ['sse-no-usage', true],
      ['malformed-json', false],
      ['malformed-sse', true],
    ] as const) {
      const r = await ask(gateways[0], 'metered', model, { stream });
      expect(r.status).toBe(200);
      if (model === 'malformed-json') expect(r.text).toBe('{"choices": [{"message": {"content": "cut'); // passed through as sent
      // The auth record of the call carries its spend, marked as estimated.
      const record = await eventually(
        () => authRecords().then((all) => all.find((x) => x.llm?.model === model)),
        (x) => x !== undefined,
        { what: `${model} recorded` },
      );
      expect(record!.llm).toMatchObject({ estimated: true });
      // Prompt "Say hello" (+ role, message overhead) and, where it could be read, the generated text.
      const cost = record!.llm!.totalTokens;
      expect(cost).toBeGreaterThanOrEqual(5);
      expect(cost).toBeLessThan(30);
      // The quota is charged the same: the prompt's estimate is reserved at admission and the
      // settlement (the record's total minus that reservation) lands a moment later.
      const charged = await eventually(
        () => spent(project, 'month'),
        (n) => n === total + cost,
        { what: `${model} charged ${cost}` },
      );
      total = charged;
    }
    // An upstream refusal costs nothing.
    expect((await ask(gateways[1], 'metered', 'refused')).status).toBe(429);
    await new Promise((r) => setTimeout(r, 200));
    expect(await spent(project, 'month')).toBe(total);
  });

  it('refuses a prompt whose estimate exceeds the quota before it goes upstream', async () => {
    await createCredential('small', { tokenQuotas: [{ limit: 50, period: 'minute' }] });
    const body = { model: 'json-usage', messages: [{ role: 'user', content: 'tokens '.repeat(500) }] };
    const before = upstream.received.length;
    const r = await eventually(
      () => chat(gateways[1], keys.small, body).then(async (res) => ({ status: res.status, body: await res.json(), retry: res.headers.get('retry-after') })),
      (x) => x.status !== 401,
      {
        what: 'new credential on gateway-b',
      },
    );
    expect(r.status).toBe(429);
    expect(r.body.code).toBe('llm_token_estimate_exceeds_quota');
    expect(Number(r.retry)).toBeGreaterThan(0);
    expect(Number(r.retry)).toBeLessThanOrEqual(60);
    expect(upstream.received.length).toBe(before);
  });

  it('keeps the accounting exact under concurrent calls on both Gateways', async () => {
    const statuses: number[] = [];
    let next = 0;
    const worker = async () => {
      while (next < 60) {
        const i = next++;
        statuses.push((await ask(gateways[i % 2], 'crowd', 'json-usage')).status);
      }
    };
    await Promise.all(Array.from({ length: 12 }, worker));
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    const admitted = statuses.filter((s) => s === 200).length;
    // Every admitted call is charged its 30 tokens, no more, no less; reservations kept the overrun to the calls in flight.
    const used = await spentSettles(`c:${ids.crowd}`, admitted * 30);
    expect(used).toBeGreaterThanOrEqual(1000 - 30);
    expect(used).toBeLessThanOrEqual(1000 + 12 * 30);
    expect((await ask(gateways[0], 'crowd', 'json-usage')).status).toBe(429);
  });
});
