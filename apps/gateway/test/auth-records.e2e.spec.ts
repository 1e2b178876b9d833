import { AUTH_RECORDS_QUEUED_KEY, AUTH_RECORDS_STREAM, authRecordEntrySchema, EnvironmentConfigStore, type AuthRecord } from '@idm/config-bus';
import { generateApiKey, tokenSettingsSchema } from '@idm/domain';
import { hash } from 'argon2';
import Redis from 'ioredis';
import { signJwt, SigningKeyRing } from '@idm/tokens';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import {
  AppProcess,
  box,
  configSnapshot,
  eventually,
  freePort,
  RedisProcess,
  type RunningServer,
  snapshotCredential,
  snapshotKey,
  snapshotKeyManager,
  snapshotProxy,
  startEchoServer,
  TEST_MASTER_KEYS,
} from '@idm/test-kit';

/**
 * Auth records from a real Gateway process into a private Redis: every chain decision and token
 * endpoint call is one record in the stream, with who was presented but never a secret, and a
 * queue over its bound makes the Gateway drop (and count) instead of wait.
 */
describe('Gateway auth records (end to end)', () => {
  const environment = 'auth-records-e2e';
  const aliceKey = generateApiKey();
  const password = 'correct horse battery';
  const SVC_SECRET = 'svc-app-client-secret';
  const signingKey = snapshotKey('RS256');
  const KM_ID = randomUUID();
  const KM_ISSUER = 'https://partner.issuer.test';
  const KM_SECRET = randomBytes(32).toString('base64url');
  let redisServer: RedisProcess;
  let redis: Redis;
  let echo: RunningServer;
  let gateway: AppProcess;

  beforeAll(async () => {
    redisServer = new RedisProcess(await freePort());
    await redisServer.start();
    redis = new Redis(redisServer.url);
    echo = await startEchoServer();
    const passwordHash = await hash(password, { type: 2 });
    await new EnvironmentConfigStore(redis).write(
      configSnapshot({
        environment,
        epoch: 'e2e',
        revision: 1,
        proxies: [
          snapshotProxy({ id: 'p-key', projectId: 'proj', name: 'keyed', basePath: '/keyed', upstreamUrl: echo.url, policies: [{ type: 'api-key', config: {} }] }),
          snapshotProxy({ id: 'p-basic', projectId: 'proj', name: 'basic', basePath: '/basic', upstreamUrl: echo.url, policies: [{ type: 'basic-auth', config: {} }] }),
          snapshotProxy({ id: 'p-oauth', projectId: 'proj', name: 'oauth', basePath: '/oauth', upstreamUrl: echo.url, policies: [{ type: 'oauth2-auth', config: {} }] }),
          snapshotProxy({ id: 'p-jwt', projectId: 'proj', name: 'jwt', basePath: '/jwt', upstreamUrl: echo.url, policies: [{ type: 'jwt-auth', config: {} }] }),
          snapshotProxy({
            id: 'p-partner',
            projectId: 'proj',
            name: 'partner',
            basePath: '/partner',
            upstreamUrl: echo.url,
            policies: [{ type: 'jwt-auth', config: { keyManagers: [KM_ID] } }],
          }),
          snapshotProxy({ id: 'p-open', projectId: 'proj', name: 'open', basePath: '/open', upstreamUrl: echo.url, policies: [] }),
        ],
        signingKeys: [signingKey],
        keyManagers: [snapshotKeyManager({ id: KM_ID, name: 'partner', issuer: KM_ISSUER, algorithms: ['HS256'], sharedSecret: box.seal(KM_SECRET) })],
        credentials: [
          snapshotCredential({
            id: 'c-alice',
            projectId: 'proj',
            username: 'alice',
            passwordHash,
            apiKeys: [{ id: 'k1', prefix: aliceKey.prefix, hash: aliceKey.hash, expiresAt: null }],
          }),
          snapshotCredential({
            id: 'c-svc',
            projectId: 'proj',
            username: 'svc-app',
            passwordHash: await hash(SVC_SECRET, { type: 2 }),
            tokenSettings: tokenSettingsSchema.parse({ grants: ['client_credentials'], scopes: ['read'] }),
          }),
        ],
      }),
    );
    const port = await freePort();
    gateway = AppProcess.gateway(
      'gateway',
      {
        GATEWAY_PORT: String(port),
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_ENVIRONMENT: environment,
        GATEWAY_ID: 'gw-e2e-1',
        REDIS_URL: redisServer.url,
        UPSTREAM_ALLOW: '127.0.0.1',
        AUTH_RECORDS_FLUSH_MS: '20',
        AUTH_RECORDS_QUEUE_LIMIT: '1000',
        IDM_MASTER_KEYS: TEST_MASTER_KEYS,
      },
      `http://127.0.0.1:${port}`,
    );
    await gateway.start();
  }, 180_000);

  afterAll(async () => {
    await gateway?.stop();
    redis?.disconnect();
    await redisServer?.stop();
    await echo?.close();
  });

  async function streamRecords(): Promise<{ records: AuthRecord[]; raw: string }> {
    const entries = await redis.xrange(AUTH_RECORDS_STREAM, '-', '+');
    const raw = entries.map(([, fields]) => fields[1]).join('\n');
    return { records: entries.flatMap(([, fields]) => authRecordEntrySchema.parse(JSON.parse(fields[1]))), raw };
  }

  it('queues one record per decision, with the presented name or key prefix and never the secret', async () => {
    const wrongKey = `${aliceKey.prefix}_${'x'.repeat(32)}`;
    const calls: [string, RequestInit][] = [
      ['/keyed/a', { headers: { 'x-api-key': aliceKey.key, 'x-request-id': 'rec-ok', 'user-agent': 'records-test/1' } }],
      ['/keyed/a', { headers: { 'x-api-key': wrongKey, 'x-request-id': 'rec-bad-key' } }],
      ['/basic/a', { headers: { authorization: `Basic ${Buffer.from(`alice:${password}-wrong`).toString('base64')}`, 'x-request-id': 'rec-bad-password' } }],
      ['/open/a', { headers: { 'x-request-id': 'rec-open' } }],
      [
        '/credential/token',
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': 'rec-token' },
          body: 'grant_type=client_credentials&client_id=nobody&client_secret=s3cret-value',
        },
      ],
    ];
    const statuses = [];
    for (const [path, init] of calls) statuses.push((await fetch(gateway.baseUrl + path, init)).status);
    expect(statuses).toEqual([200, 401, 401, 200, 401]);

    const { records, raw } = await eventually(streamRecords, ({ records }) => records.length >= 4, { what: 'four records in the stream' });
    const byRequest = new Map(records.map((r) => [r.requestId, r]));
    expect(byRequest.get('rec-ok')).toMatchObject({
      environment,
      gatewayId: 'gw-e2e-1',
      proxyId: 'p-key',
      proxyName: 'keyed',
      projectId: 'proj',
      policy: 'api-key',
      outcome: 'success',
      reason: null,
      credentialId: 'c-alice',
      username: 'alice',
      keyPrefix: aliceKey.prefix,
      clientId: null,
      issuer: null,
      tokenType: null,
      clientIp: '127.0.0.1',
      userAgent: 'records-test/1',
    });
    expect(byRequest.get('rec-bad-key')).toMatchObject({
      policy: 'api-key',
      outcome: 'denied',
      reason: 'invalid_api_key',
      status: 401,
      credentialId: null,
      keyPrefix: aliceKey.prefix,
    });
    expect(byRequest.get('rec-bad-password')).toMatchObject({
      policy: 'basic-auth',
      outcome: 'denied',
      reason: 'invalid_credentials',
      credentialId: null,
      username: 'alice',
      issuer: null,
      tokenType: null,
    });
    expect(byRequest.get('rec-token')).toMatchObject({
      policy: 'token-endpoint:/credential/token',
      outcome: 'denied',
      reason: 'invalid_client',
      username: 'nobody',
      clientId: 'nobody',
      tokenType: 'opaque',
      issuer: expect.stringMatching(/\/credential$/),
    });
    // A proxy that authenticates no one records no pass.
    expect(byRequest.has('rec-open')).toBe(false);
    expect(records).toHaveLength(4);
    for (const record of records) expect(record.latencyMs).toBeGreaterThanOrEqual(0);
    for (const secret of [aliceKey.key, wrongKey, password, 's3cret-value']) expect(raw).not.toContain(secret);
    expect(Number(await redis.get(AUTH_RECORDS_QUEUED_KEY))).toBe(4);
  });

  it('drops and counts records when the queue holds its bound, without slowing requests', async () => {
    await redis.set(AUTH_RECORDS_QUEUED_KEY, '1000');
    const before = (await streamRecords()).records.length;
    for (let i = 0; i < 5; i++) expect((await fetch(`${gateway.baseUrl}/keyed/a`, { headers: { 'x-api-key': aliceKey.key } })).status).toBe(200);
    const metrics = await eventually(
      () => fetch(`${gateway.baseUrl}/metrics`).then((r) => r.text()),
      (text) => /idm_gateway_auth_records_total\{result="dropped_queue_full"\} 5/.test(text),
      { what: 'five dropped records counted' },
    );
    expect(metrics).toMatch(/idm_gateway_auth_records_total\{result="queued"\} 4/);
    expect((await streamRecords()).records).toHaveLength(before);
  });

  it("records the OAuth client of a client-credentials token request and of the token's use on a proxy", async () => {
    await redis.set(AUTH_RECORDS_QUEUED_KEY, '0'); // the bound the previous case filled
    const issued = await fetch(`${gateway.baseUrl}/credential/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': 'rec-cc-ok' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'svc-app', client_secret: SVC_SECRET, scope: 'read' }).toString(),
    });
    expect(issued.status).toBe(200);
    const { access_token: token } = (await issued.json()) as { access_token: string };
    expect((await fetch(`${gateway.baseUrl}/oauth/a`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': 'rec-cc-use' } })).status).toBe(200);

    const { records, raw } = await eventually(streamRecords, ({ records }) => ['rec-cc-ok', 'rec-cc-use'].every((id) => records.some((r) => r.requestId === id)), {
      what: 'the token request and its use in the stream',
    });
    const byRequest = new Map(records.map((r) => [r.requestId, r]));
    expect(byRequest.get('rec-cc-ok')).toMatchObject({
      policy: 'token-endpoint:/credential/token',
      outcome: 'success',
      credentialId: 'c-svc',
      username: 'svc-app',
      clientId: 'c-svc',
    });
    // The same client on the proxy, by the id its token carries: one filter finds both.
    // ...and by the issuer that minted it: the token service the token request's record names.
    expect(byRequest.get('rec-cc-use')).toMatchObject({
      policy: 'oauth2-auth',
      outcome: 'success',
      proxyId: 'p-oauth',
      credentialId: 'c-svc',
      clientId: 'c-svc',
      issuer: byRequest.get('rec-cc-ok')!.issuer,
      tokenType: 'opaque',
    });
    expect(byRequest.get('rec-cc-ok')!.issuer).toBe(`${gateway.baseUrl}/credential`);
    for (const secret of [SVC_SECRET, token]) expect(raw).not.toContain(secret);
  });

  it("records the issuer and format of a JWT on a proxy: our token service's `iss`, or the key manager it was routed to (refusals too)", async () => {
    await redis.set(AUTH_RECORDS_QUEUED_KEY, '0');
    const now = Math.floor(Date.now() / 1000);
    const { ring } = SigningKeyRing.fromSnapshot([signingKey], box);
    const ownJwt = signJwt(
      { iss: `${gateway.baseUrl}/credential`, sub: 'c-alice', aud: ['/jwt'], client_id: 'c-alice', iat: now, exp: now + 300, jti: randomBytes(8).toString('hex') },
      ring.signer(Date.now())!,
    );
    const partnerInput = [
      { alg: 'HS256', typ: 'JWT' },
      { iss: KM_ISSUER, sub: 'partner-user', azp: 'partner-app', exp: now + 300 },
    ]
      .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
      .join('.');
    const partnerJwt = `${partnerInput}.${createHmac('sha256', KM_SECRET).update(partnerInput).digest('base64url')}`;
    const forgedJwt = `${partnerInput}.${createHmac('sha256', 'not-the-partner-secret').update(partnerInput).digest('base64url')}`;
    const calls: [string, string | null, string, number][] = [
      ['/jwt/a', ownJwt, 'rec-jwt-own', 200],
      ['/partner/a', partnerJwt, 'rec-jwt-partner', 200],
      ['/partner/a', forgedJwt, 'rec-jwt-forged', 401],
      ['/jwt/a', null, 'rec-jwt-none', 401],
    ];
    for (const [path, token, requestId, status] of calls) {
      const res = await fetch(gateway.baseUrl + path, { headers: { 'x-request-id': requestId, ...(token !== null && { authorization: `Bearer ${token}` }) } });
      // The answer's body shows in a failure (why a call was refused).
      expect({ requestId, status: res.status, body: res.status === status ? null : await res.text() }).toEqual({ requestId, status, body: null });
    }

    const { records, raw } = await eventually(streamRecords, ({ records }) => calls.every(([, , id]) => records.some((r) => r.requestId === id)), {
      what: 'the four JWT calls in the stream',
    });
    const byRequest = new Map(records.map((r) => [r.requestId, r]));
    expect(byRequest.get('rec-jwt-own')).toMatchObject({
      policy: 'jwt-auth',
      outcome: 'success',
      credentialId: 'c-alice',
      issuer: `${gateway.baseUrl}/credential`,
      tokenType: 'jwt',
    });
    expect(byRequest.get('rec-jwt-partner')).toMatchObject({
      policy: 'jwt-auth',
      outcome: 'success',
      credentialId: 'partner-user',
      clientId: 'partner-app',
      issuer: KM_ISSUER,
      tokenType: 'jwt',
    });
    // A forged token still names the key manager it claimed: failures count per issuer.
    expect(byRequest.get('rec-jwt-forged')).toMatchObject({ outcome: 'denied', reason: 'invalid_token', issuer: KM_ISSUER, tokenType: 'jwt' });
    // Nothing presented, nothing verified: no issuer.
    expect(byRequest.get('rec-jwt-none')).toMatchObject({ outcome: 'denied', reason: 'missing_token', issuer: null, tokenType: 'jwt' });
    for (const secret of [ownJwt, partnerJwt, forgedJwt, KM_SECRET]) expect(raw).not.toContain(secret);
  });
});
