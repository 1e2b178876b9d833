import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { z } from 'zod';
import { createRedisClient } from './redis-client';
import { explainRedisError } from './redis-outages';
import { redisTopologyEnv, redisTopologyOf, type RedisTopology } from './redis-topology';

describe('TLS to Redis settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'idm-redis-tls-'));
  const file = (name: string, content: string) => {
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  };
  const ca = file('ca.pem', 'CA PEM');
  const cert = file('client.pem', 'CERT PEM');
  const key = file('client.key', 'KEY PEM');
  const parse = (env: Record<string, string>) => redisTopologyOf(z.object(redisTopologyEnv).parse(env));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the CA bundle, client certificate and servername for Sentinel and Cluster', () => {
    const files = { REDIS_TLS: 'true', REDIS_TLS_CA_FILE: ca, REDIS_TLS_CERT_FILE: cert, REDIS_TLS_KEY_FILE: key, REDIS_TLS_SERVERNAME: 'redis.internal' };
    const tls = { ca: 'CA PEM', cert: 'CERT PEM', key: 'KEY PEM', servername: 'redis.internal' };
    expect(parse({ REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_MASTER: 'm', ...files })).toMatchObject({ mode: 'sentinel', tls });
    expect(parse({ REDIS_CLUSTER_NODES: 'c:7000', ...files })).toMatchObject({ mode: 'cluster', tls });
  });

  it('turns TLS on for REDIS_URL with rediss:// or REDIS_TLS=true, and leaves plaintext without either', () => {
    expect(parse({ REDIS_URL: 'rediss://h:6380' })).toEqual({ mode: 'single', url: 'rediss://h:6380', tls: {} });
    expect(parse({ REDIS_URL: 'redis://h:6380', REDIS_TLS: 'true', REDIS_TLS_CA_FILE: ca })).toEqual({ mode: 'single', url: 'redis://h:6380', tls: { ca: 'CA PEM' } });
    expect(parse({ REDIS_CLUSTER_NODES: 'c:7000' })).toEqual({ mode: 'cluster', nodes: [{ host: 'c', port: 7000 }] });
  });

  it('refuses settings that would not take effect, half a client certificate and unreadable files', () => {
    expect(parse({ REDIS_CLUSTER_NODES: 'c:7000', REDIS_TLS_CA_FILE: ca })).toEqual([expect.stringMatching(/^REDIS_TLS_CA_FILE: needs TLS/)]);
    expect(parse({ REDIS_URL: 'rediss://h', REDIS_TLS: 'false' })).toEqual([expect.stringMatching(/^REDIS_TLS: false contradicts the rediss:\/\//)]);
    expect(parse({ REDIS_TLS: 'true', REDIS_TLS_CERT_FILE: cert })).toEqual([expect.stringMatching(/^REDIS_TLS_KEY_FILE: required with the other/)]);
    expect(parse({ REDIS_TLS: 'true', REDIS_TLS_CA_FILE: join(dir, 'missing.pem') })).toEqual([expect.stringMatching(/^REDIS_TLS_CA_FILE: cannot read .*missing\.pem \(ENOENT\)/)]);
    expect(() => parse({ REDIS_TLS: 'yes' })).toThrow(/must be true or false/);
  });

  it('gives the settings to the Sentinels, the master and every Cluster node', () => {
    const tls = { ca: 'CA PEM', servername: 'redis.internal' };
    const sentinel = createRedisClient({ mode: 'sentinel', sentinels: [{ host: 's', port: 26379 }], masterName: 'm', tls }, { lazyConnect: true });
    expect(sentinel.options).toMatchObject({ sentinelTLS: tls, tls, enableTLSForSentinelMode: true });
    const cluster = createRedisClient({ mode: 'cluster', nodes: [{ host: 'c', port: 7000 }], tls }, { lazyConnect: true }) as unknown as Cluster;
    expect(cluster.options.redisOptions).toMatchObject({ tls });
    expect(createRedisClient({ mode: 'single', url: 'rediss://h', tls }, { lazyConnect: true }).options).toMatchObject({ tls });
  });
});

describe('explainRedisError', () => {
  const failure = (message: string, code?: string) => Object.assign(new Error(message), code && { code });
  const plaintext: RedisTopology = { mode: 'cluster', nodes: [{ host: '127.0.0.1', port: 1 }] };

  it('shows the node error a Cluster keeps aside, and names the TLS settings when its certificate was refused', async () => {
    const cluster = Object.assign(new Error('Failed to refresh slots cache.'), {
      lastNodeError: failure('unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
    });
    expect(await explainRedisError(cluster, plaintext)).toEqual({
      message: 'Failed to refresh slots cache. unable to verify the first certificate',
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      hint: expect.stringContaining('REDIS_TLS_CA_FILE'),
    });
  });

  it('adds no hint to other errors, and probes nothing without TLS', async () => {
    expect(await explainRedisError(failure('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED'), plaintext)).toEqual({
      message: 'connect ECONNREFUSED 127.0.0.1:1',
      code: 'ECONNREFUSED',
    });
  });

  it('with TLS, asks the first node: a node that does not answer is no certificate refusal', async () => {
    const why = await explainRedisError(new Error('All sentinels are unreachable.'), { ...plaintext, tls: {} });
    expect(why).toEqual({ message: 'All sentinels are unreachable.' });
  });
});
