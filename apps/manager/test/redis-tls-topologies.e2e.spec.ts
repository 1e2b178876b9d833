import { AppProcess, eventually, freePort, TestPki, type TestCertificate } from '@idm/test-kit';
import { UPSTREAM_OPT_IN } from './support/cluster';
import { redisTlsFixture, startRedisCluster, startRedisSentinel, type RedisTlsFixture, type RedisTopologyUnderTest } from './support/redis-topologies';
import { ENV, onTopology, provesConfigPropagation, provesExactRateLimit, provesTokenIssueAndIntrospection } from './support/topology-proofs';

/**
 * Both apps (built, as processes) on a Redis Sentinel and a Redis Cluster that listen only on TLS
 * and require a client certificate: the Sentinels, master and replica, every Cluster node (and
 * their own links: replication, the Cluster bus). The apps get REDIS_TLS, the CA bundle, a client
 * certificate and the servername (the certificate names `localhost`; Sentinel and Cluster hand
 * out 127.0.0.1), so a connection that dropped any of these settings would get no reply: config,
 * tokens (BullMQ included) and rate limits through each prove every connection honours them. A
 * Gateway trusting another CA is never ready and logs why, naming the settings.
 */
let pki: TestPki;
let tls: RedisTlsFixture;
let otherCa: TestCertificate;

beforeAll(async () => {
  pki = await TestPki.create();
  tls = await redisTlsFixture(pki);
  otherCa = await pki.issue('other-ca', { subject: '/CN=another-ca', ca: true });
}, 30_000);

afterAll(() => pki?.remove());

/**
 * A Gateway that trusts another CA than the one that signed the deployment's certificates never
 * gets ready, and its log says the certificate was refused and which settings decide.
 */
async function refusesTheCertificateOfAnotherCa(redis: RedisTopologyUnderTest): Promise<void> {
  const port = await freePort();
  const gateway = AppProcess.gateway(
    'gateway-other-ca',
    { GATEWAY_PORT: String(port), GATEWAY_HOST: '127.0.0.1', GATEWAY_ENVIRONMENT: ENV, ...redis.env, REDIS_TLS_CA_FILE: otherCa.certFile, LOG_LEVEL: 'warn', ...UPSTREAM_OPT_IN },
    `http://127.0.0.1:${port}`,
  );
  const started = gateway.start('/health/ready', 20_000).then(
    () => 'ready',
    () => 'not ready',
  );
  try {
    const explained = await eventually(
      async () =>
        gateway.output
          .join('')
          .split('\n')
          .find((line) => line.includes('REDIS_TLS_CA_FILE')),
      (line) => line !== undefined,
      { what: 'the refused certificate in the log' },
    );
    expect(explained).toMatch(/Redis .*certificate.*was refused/);
  } finally {
    await gateway.stop();
  }
  expect(await started).toBe('not ready');
}

describe('Redis Sentinel over TLS (master, replica, 3 Sentinels; client certificates)', () => {
  const on = onTopology(() => startRedisSentinel(tls));

  it('propagates a config change from the Manager to both Gateways', () => provesConfigPropagation(on.i, 'orders', on.redis), 30_000);

  it('issues a token on one Gateway and introspects it on the other', () => provesTokenIssueAndIntrospection(on.i, on.redis), 30_000);

  it('enforces a rate limit exactly across both Gateways', () => provesExactRateLimit(on.i), 30_000);

  it('refuses Sentinels whose certificate another CA signed, saying which settings decide', () => refusesTheCertificateOfAnotherCa(on.redis), 30_000);
});

describe('Redis Cluster over TLS (3 masters; client certificates)', () => {
  const on = onTopology(() => startRedisCluster(tls));

  it('propagates a config change from the Manager to both Gateways', () => provesConfigPropagation(on.i, 'orders', on.redis), 30_000);

  it('issues a token on one Gateway and introspects it on the other', () => provesTokenIssueAndIntrospection(on.i, on.redis), 30_000);

  it('enforces a rate limit exactly across both Gateways', () => provesExactRateLimit(on.i), 30_000);

  it('refuses nodes whose certificate another CA signed, saying which settings decide', () => refusesTheCertificateOfAnotherCa(on.redis), 30_000);
});
