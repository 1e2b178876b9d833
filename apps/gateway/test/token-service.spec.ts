import { EnvironmentConfigStore } from '@idm/config-bus';
import { tokenSettingsSchema } from '@idm/domain';
import { configSnapshot, eventually, freePort, listenOnLoopback, RedisProcess, snapshotCredential, snapshotKey, TEST_MASTER_KEYS, type RunningServer } from '@idm/test-kit';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { hash } from 'argon2';
import Redis from 'ioredis';
import { createServer } from 'node:http';
import pino from 'pino';
import { parseGatewayConfig } from '../src/config/gateway-config';
import { ActiveConfiguration } from '../src/serving/active-configuration';
import { GatewayModule } from '../src/gateway.module';
import { TokenHttpHandler } from '../src/token-service/token-http.handler';

/**
 * The token service in-process: the Gateway's own module wiring (what `main.ts` builds), its
 * TokenHttpHandler on a plain listener, a real redis-server of its own (token records, the
 * persistence queue and the revocation channel stay private to this file). The end-to-end specs
 * (apps/manager/test/token-service.e2e.spec.ts and friends) cover the same flows through built
 * processes with a Manager; this tier runs in seconds and pins the handler's behaviour.
 */
const ENVIRONMENT = 'token-inproc';
const APP_SECRET = 'billing-app-secret';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const APP = basic('billing-app', APP_SECRET);

describe('token service handler (in process, real Redis)', () => {
  let redisServer: RedisProcess;
  let redis: Redis;
  let gateway: INestApplicationContext;
  let listener: RunningServer;

  async function post(path: string, form: Record<string, string>, headers: Record<string, string> = { authorization: APP }): Promise<{ status: number; body: any }> {
    const res = await fetch(listener.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
    return { status: res.status, body: await res.json() };
  }
  const introspect = async (token: string) => (await post('/credential/introspect', { token })).body;

  beforeAll(async () => {
    redisServer = new RedisProcess(await freePort());
    await redisServer.start();
    redis = new Redis(redisServer.url);
    const settings = tokenSettingsSchema.parse({ grants: ['client_credentials', 'password', 'refresh_token'], refreshAllowed: true, scopes: ['read', 'write'] });
    await new EnvironmentConfigStore(redis).write(
      configSnapshot({
        environment: ENVIRONMENT,
        signingKeys: [snapshotKey('RS256')],
        credentials: [
          snapshotCredential({ id: 'c-app', username: 'billing-app', passwordHash: await hash(APP_SECRET, { type: 2 }), tokenSettings: settings }),
          snapshotCredential({ id: 'c-alice', username: 'alice', passwordHash: await hash('alice-password', { type: 2 }) }),
        ],
      }),
    );
    const config = parseGatewayConfig({ GATEWAY_ENVIRONMENT: ENVIRONMENT, REDIS_URL: redisServer.url, IDM_MASTER_KEYS: TEST_MASTER_KEYS, LOG_LEVEL: 'silent' });
    gateway = await NestFactory.createApplicationContext(GatewayModule.forRoot(config, pino({ level: 'silent' })), { logger: false });
    await eventually(
      () => gateway.get(ActiveConfiguration).revision,
      (revision) => revision === 1,
      { what: 'the snapshot to be active' },
    );
    listener = await listenOnLoopback(createServer(gateway.get(TokenHttpHandler).handle));
  });

  afterAll(async () => {
    await listener?.close();
    await gateway?.close();
    redis?.disconnect();
    await redisServer?.stop(); // a private server: every key it held goes with it
  });

  it('issues opaque and JWT access tokens for client_credentials, and keeps opaque ones in Redis', async () => {
    const opaque = await post('/credential/token', { grant_type: 'client_credentials', scope: 'read' });
    expect(opaque).toMatchObject({ status: 200, body: { token_type: 'Bearer', scope: 'read', access_token: expect.any(String) } });
    expect(opaque.body.refresh_token).toBeUndefined(); // no refresh token for client_credentials
    expect(await redis.keys(`{idm:tokens:${ENVIRONMENT}}:*`)).not.toHaveLength(0);
    const jwt = await post('/credential/jwt', { grant_type: 'client_credentials' });
    expect(jwt.status).toBe(200);
    expect(jwt.body.access_token.split('.')).toHaveLength(3);
  });

  it('introspects its own tokens as active (RFC 7662) and a foreign one as inactive', async () => {
    const { access_token } = (await post('/credential/token', { grant_type: 'client_credentials', scope: 'read write' })).body;
    expect(await introspect(access_token)).toMatchObject({ active: true, client_id: 'c-app', scope: 'read write', token_type: 'Bearer' });
    expect(await introspect('idm_at_not-one-of-ours')).toEqual({ active: false });
  });

  it('rotates refresh tokens and, on reuse of a spent one, revokes the whole family', async () => {
    const first = (await post('/credential/token', { grant_type: 'password', username: 'alice', password: 'alice-password' })).body;
    expect(first.refresh_token).toMatch(/^idm_rt_/);
    const second = await post('/credential/token', { grant_type: 'refresh_token', refresh_token: first.refresh_token });
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    expect(await introspect(second.body.access_token)).toMatchObject({ active: true, username: 'alice' });

    expect(await post('/credential/token', { grant_type: 'refresh_token', refresh_token: first.refresh_token })).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await introspect(second.body.access_token)).toEqual({ active: false });
    expect(await post('/credential/token', { grant_type: 'refresh_token', refresh_token: second.body.refresh_token })).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
  });

  it('revokes the JWT access tokens minted from a refresh family with it: on reuse of a spent refresh token and on its revocation', async () => {
    const login = () => post('/credential/jwt', { grant_type: 'password', username: 'alice', password: 'alice-password' }).then((r) => r.body);
    const first = await login();
    const second = (await post('/credential/jwt', { grant_type: 'refresh_token', refresh_token: first.refresh_token })).body;
    for (const jwt of [first.access_token, second.access_token]) expect(await introspect(jwt)).toMatchObject({ active: true, username: 'alice' });
    expect(await post('/credential/jwt', { grant_type: 'refresh_token', refresh_token: first.refresh_token })).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    for (const jwt of [first.access_token, second.access_token]) expect(await introspect(jwt)).toEqual({ active: false });

    const other = await login();
    const untouched = await login();
    expect(await post('/credential/revoke', { token: other.refresh_token })).toEqual({ status: 200, body: {} });
    expect(await introspect(other.access_token)).toEqual({ active: false });
    // Another grant of the same user and client is not part of the family.
    expect(await introspect(untouched.access_token)).toMatchObject({ active: true });
  });

  it('revokes (RFC 7009): the token stops introspecting, and unknown tokens still answer 200', async () => {
    const { access_token } = (await post('/credential/token', { grant_type: 'client_credentials' })).body;
    expect(await post('/credential/revoke', { token: access_token })).toEqual({ status: 200, body: {} });
    expect(await introspect(access_token)).toEqual({ active: false });
    expect(await post('/credential/revoke', { token: 'idm_at_never-issued' })).toEqual({ status: 200, body: {} });
  });

  it('answers bad requests with RFC 6749 errors', async () => {
    expect(await post('/credential/token', { grant_type: 'client_credentials', client_id: 'billing-app', client_secret: APP_SECRET })).toMatchObject({
      status: 400,
      body: { error: 'invalid_request' },
    });
    expect(await post('/credential/token', { grant_type: 'client_credentials' }, { authorization: basic('billing-app', 'wrong') })).toMatchObject({
      status: 401,
      body: { error: 'invalid_client' },
    });
    expect(await post('/credential/token', { grant_type: 'implicit' })).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
    expect(await post('/credential/token', { grant_type: 'client_credentials', scope: 'admin' })).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
    expect(await post('/credential/token', { grant_type: 'password', username: 'alice', password: 'nope' })).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });
});
