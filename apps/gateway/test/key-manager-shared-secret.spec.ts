import type { SnapshotKeyManager, SnapshotSecret } from '@idm/config-bus';
import { UpstreamPolicy } from '@idm/domain';
import { box, configSnapshot, createEchoServer, listenOnLoopback, snapshotKeyManager, snapshotProxy, snapshotSecret, type RunningServer } from '@idm/test-kit';
import * as jose from 'jose';
import { randomBytes, randomUUID } from 'node:crypto';
import pino from 'pino';
import { GatewayHttpServer } from '../src/http/gateway-http-server';
import { GatewayKeyManagers } from '../src/issuers/gateway-key-managers';
import { GatewayMetrics } from '../src/metrics/gateway-metrics';
import { ProxyRequestHandler } from '../src/proxy/proxy-request.handler';
import { UpstreamPools } from '../src/proxy/upstream-pools';
import { ActiveConfiguration } from '../src/serving/active-configuration';

const LOOPBACK_ALLOWED = new UpstreamPolicy({ allowInternal: false, allow: ['127.0.0.1'], deny: [], ownEndpoints: [] });
const ISSUER = 'https://hs-partner.example/realm';

/**
 * A key manager whose HS* key comes from a project secret (sharedSecretRef, #14 §1/§5): tokens
 * signed (with jose) with the secret's bytes pass jwt-auth; another secret, or HS* on a key manager
 * without any shared secret, is 401 invalid_token; during a rotation's overlap both the previous
 * and the current version verify, and the previous one stops when its overlap ends.
 */
describe('key managers: HS* keys from a project secret', () => {
  const kmId = randomUUID();
  const bareId = randomUUID();
  const secretId = randomUUID();
  const first = randomBytes(64);
  const second = randomBytes(48);
  /** The Gateway's clock, moved past the overlap's end without waiting. */
  let offsetMs = 0;
  let echo: RunningServer;
  let runtimes: GatewayKeyManagers;
  let active: ActiveConfiguration;
  let pools: UpstreamPools;
  let gateway: { url: string; close(): Promise<void> };
  let revision = 0;

  /** A shared-secret version as the Manager stores it: the bytes as an oct JWK, sealed. */
  const version = (kid: string, bytes: Buffer, retiresAt: string | null = null) => ({
    kid,
    secretJwk: { kty: 'oct', k: bytes.toString('base64url'), kid },
    publicJwk: null,
    retiresAt,
  });
  const publish = (ref: SnapshotSecret) => {
    const withRef: SnapshotKeyManager = { ...snapshotKeyManager({ id: kmId, name: 'hs-partner', issuer: ISSUER, algorithms: ['HS256', 'HS512'] }), sharedSecretRef: ref };
    // HS256 listed, no shared secret of either kind: HS* is refused whatever the list says.
    const bare = snapshotKeyManager({ id: bareId, name: 'hs-bare', issuer: `${ISSUER}/bare`, algorithms: ['HS256'] });
    active.activate(
      configSnapshot({
        environment: 'km-shared-secret-test',
        revision: ++revision,
        keyManagers: [withRef, bare],
        proxies: [snapshotProxy({ id: 'hs', upstreamUrl: echo.url, policies: [{ type: 'jwt-auth', config: { keyManagers: [kmId, bareId] } }] })],
      }),
    );
  };
  const token = (key: Buffer, { alg = 'HS256', kid, iss = ISSUER }: { alg?: string; kid?: string; iss?: string } = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new jose.SignJWT({ scope: 'read' })
      .setProtectedHeader({ alg, typ: 'JWT', ...(kid ? { kid } : {}) })
      .setIssuer(iss)
      .setSubject('hs-user')
      .setJti(randomUUID()) // every token distinct: no verdict cached for an earlier one counts
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(key);
  };
  const call = async (bearer: string) => {
    const res = await fetch(`${gateway.url}/hs/x`, { headers: { authorization: `Bearer ${bearer}` } });
    const text = await res.text();
    return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
  };

  beforeAll(async () => {
    echo = await listenOnLoopback(createEchoServer());
    const metrics = new GatewayMetrics();
    pools = new UpstreamPools({ connectTimeoutMs: 1000, headersTimeoutMs: 2000, bodyTimeoutMs: 2000, keepAliveTimeoutMs: 1000, connections: 4 }, LOOPBACK_ALLOWED);
    runtimes = new GatewayKeyManagers({ redis: null, secrets: box, upstreamPolicy: LOOPBACK_ALLOWED, now: () => Date.now() + offsetMs });
    active = new ActiveConfiguration(pools, metrics, { keyManagers: runtimes });
    const handler = new ProxyRequestHandler(active, metrics, { trustProxy: false, bodyLimit: 64 * 1024 }, pino({ level: 'silent' }));
    const http = new GatewayHttpServer();
    const server = http.serverFactory((_req, res) => res.end('nest'));
    http.attach(handler.handle, (_req, res) => res.end('tokens'));
    const running = await listenOnLoopback(server);
    gateway = { url: running.url, close: () => running.close() };
  });

  afterAll(async () => {
    await gateway?.close();
    await pools?.closeAll();
    await runtimes?.close();
    await echo?.close();
  });

  it("accepts tokens signed with the secret's bytes, refuses another secret and HS* without a shared secret", async () => {
    publish(snapshotSecret(secretId, 'shared-secret', [version('v1', first)]));
    expect(await call(await token(first))).toMatchObject({ status: 200, body: { headers: { 'x-authenticated-issuer': 'hs-partner', 'x-authenticated-userid': 'hs-user' } } });
    expect((await call(await token(first, { alg: 'HS512' }))).status).toBe(200);
    expect(await call(await token(randomBytes(32)))).toMatchObject({ status: 401, body: { code: 'invalid_token' } });
    // The bare key manager lists HS256 but holds no shared secret: even the right-looking token is refused.
    expect(await call(await token(first, { iss: `${ISSUER}/bare` }))).toMatchObject({ status: 401, body: { code: 'invalid_token' } });
  });

  it('never verifies with a key shorter than the hash (RFC 7518 §3.2), whatever the Manager published', async () => {
    const short = randomBytes(16);
    publish(snapshotSecret(secretId, 'shared-secret', [version('v1', short)]));
    expect(await call(await token(short))).toMatchObject({ status: 401, body: { code: 'invalid_token' } });
    // 48 bytes: enough for HS256, not for HS512.
    publish(snapshotSecret(secretId, 'shared-secret', [version('v1', second)]));
    expect((await call(await token(second))).status).toBe(200);
    expect(await call(await token(second, { alg: 'HS512' }))).toMatchObject({ status: 401, body: { code: 'invalid_token' } });
  });

  it("verifies the previous and the current version during the rotation's overlap, and only the current one after it", async () => {
    const overlapEnds = new Date(Date.now() + 60_000).toISOString();
    publish(snapshotSecret(secretId, 'shared-secret', [version('v1', first, overlapEnds), version('v2', second)]));
    const old = await token(first);
    const oldNamed = await token(first, { kid: 'v1' });
    expect((await call(old)).status).toBe(200);
    expect((await call(oldNamed)).status).toBe(200);
    expect((await call(await token(second))).status).toBe(200);
    expect((await call(await token(second, { kid: 'v2' }))).status).toBe(200);
    // A kid naming the other version does not stop the right key from verifying (signers need not set kid).
    expect((await call(await token(second, { kid: 'v1' }))).status).toBe(200);

    // Past the overlap (the Manager has not republished yet): v1 no longer verifies, v2 does.
    offsetMs = 120_000;
    expect(await call(await token(first))).toMatchObject({ status: 401, body: { code: 'invalid_token' } });
    expect((await call(await token(second))).status).toBe(200);
  });
});
