import type { SnapshotKeyManager } from '@idm/config-bus';
import { UpstreamPolicy } from '@idm/domain';
import { box, configSnapshot, createEchoServer, listenOnLoopback, snapshotKeyManager, snapshotProxy, snapshotSecret, type RunningServer } from '@idm/test-kit';
import Redis from 'ioredis';
import { randomBytes, randomUUID } from 'node:crypto';
import pino from 'pino';
import { GatewayHttpServer } from '../src/http/gateway-http-server';
import type { ExternalIssuer } from '../src/issuers/external-issuer';
import { GatewayKeyManagers } from '../src/issuers/gateway-key-managers';
import { GatewayMetrics } from '../src/metrics/gateway-metrics';
import { ProxyRequestHandler } from '../src/proxy/proxy-request.handler';
import { UpstreamPools } from '../src/proxy/upstream-pools';
import { ActiveConfiguration } from '../src/serving/active-configuration';
import { ExternalIssuerProcess } from './support/external-issuer.process';

const LOOPBACK_ALLOWED = new UpstreamPolicy({ allowInternal: false, allow: ['127.0.0.1'], deny: [], ownEndpoints: [] });
/** The introspection client's secret at the oidc-provider issuer (test/support/oidc-issuer.mjs). */
const ISSUER_CLIENT_SECRET = 'gateway-secret-0123456789';

/**
 * A key manager whose introspection client secret comes from a project secret (clientSecretRef,
 * #14 §5): the Gateway authenticates its RFC 7662 calls to a real oidc-provider with the
 * secret's current version, and a published rotation (the Manager republishes the key manager
 * with the new version) is used from the next revision on.
 */
describe('key managers: introspection client secret from a project secret (oidc-provider)', () => {
  const issuer = new ExternalIssuerProcess('RS256');
  const kmId = randomUUID();
  const secretId = randomUUID();
  let redis: Redis;
  let echo: RunningServer;
  let runtimes: GatewayKeyManagers;
  let active: ActiveConfiguration;
  let pools: UpstreamPools;
  let gateway: { url: string; close(): Promise<void> };
  let revision = 0;
  const errors: string[] = [];

  /** A shared-secret version as the Manager stores it: the bytes as an oct JWK, sealed. */
  const version = (kid: string, plain: string, retiresAt: string | null = null) => ({
    kid,
    secretJwk: { kty: 'oct', k: Buffer.from(plain, 'utf8').toString('base64url'), kid },
    publicJwk: null,
    retiresAt,
  });
  const publish = (ref: ReturnType<typeof snapshotSecret>) => {
    const keyManager: SnapshotKeyManager = {
      ...snapshotKeyManager({
        id: kmId,
        name: 'opaque-issuer',
        issuer: issuer.issuer,
        discoveryUrl: `${issuer.issuer}/.well-known/openid-configuration`,
        tokenTypes: 'opaque',
        clientId: 'gateway',
      }),
      clientSecretRef: ref,
    };
    active.activate(
      configSnapshot({
        environment: 'km-secret-test',
        revision: ++revision,
        keyManagers: [keyManager],
        proxies: [snapshotProxy({ id: 'opaque', upstreamUrl: echo.url, policies: [{ type: 'oauth2-auth', config: { keyManagers: [kmId] } }] })],
      }),
    );
  };
  const call = async (token: string) => {
    const res = await fetch(`${gateway.url}/opaque/x`, { headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
  };
  const introspections = () => (runtimes.issuerOf(kmId) as ExternalIssuer).calls.introspections;

  beforeAll(async () => {
    await issuer.start();
    redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    echo = await listenOnLoopback(createEchoServer());
    const metrics = new GatewayMetrics();
    pools = new UpstreamPools({ connectTimeoutMs: 1000, headersTimeoutMs: 2000, bodyTimeoutMs: 2000, keepAliveTimeoutMs: 1000, connections: 4 }, LOOPBACK_ALLOWED);
    runtimes = new GatewayKeyManagers({
      redis,
      secrets: box,
      upstreamPolicy: LOOPBACK_ALLOWED,
      onError: (km, err) => errors.push(`${km}: ${err.message}`),
      http: { timeoutMs: 2000 },
    });
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
    const keys = await redis.keys(`idm:introspection:{${kmId}}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis?.disconnect();
    issuer.stop();
  });

  it("introspects with the referenced secret's current version and picks up a rotation", async () => {
    // Version 1 is not what the issuer knows: the issuer refuses the Gateway's client authentication.
    publish(snapshotSecret(secretId, 'shared-secret', [version('v1', `wrong-${randomBytes(8).toString('hex')}`)]));
    const before = introspections();
    const refused = await call(await issuer.token('urn:api:opaque'));
    expect(refused).toMatchObject({ status: 503, body: { code: 'issuer_unavailable' } });
    expect(errors).toContainEqual(expect.stringMatching(/introspection answered 401/));
    expect(introspections() - before).toBe(1);

    // The rotation: v1 within its overlap, v2 (the issuer's secret) current.
    const overlapEnds = new Date(Date.now() + 60_000).toISOString();
    publish(snapshotSecret(secretId, 'shared-secret', [version('v1', 'old-secret-value', overlapEnds), version('v2', ISSUER_CLIENT_SECRET)]));
    const accepted = await call(await issuer.token('urn:api:opaque'));
    expect(accepted).toMatchObject({ status: 200, body: { headers: { 'x-authenticated-issuer': 'opaque-issuer' } } });
    expect(errors.join('\n')).not.toContain(ISSUER_CLIENT_SECRET);
  });
});
