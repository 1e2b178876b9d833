import { Cluster } from 'ioredis';
import { RedisBusClient, RedisBusServer } from './redis-bus';
import { createRedisClient } from './redis-client';
import { redisConnectionOptions } from './redis-connection';
import { redisTopologyEnv, redisTopologyOf } from './redis-topology';
import { z } from 'zod';

describe('redisConnectionOptions', () => {
  it('keeps TLS, user, password and database of the URL', () => {
    expect(redisConnectionOptions('rediss://idm:p%40ss@redis.example:6380/3')).toEqual({ host: 'redis.example', port: 6380, db: 3, username: 'idm', password: 'p@ss', tls: {} });
    expect(redisConnectionOptions('redis://127.0.0.1')).toEqual({ host: '127.0.0.1', port: 6379, db: 0 });
    expect(redisConnectionOptions('redis://:secret@[::1]:7000')).toEqual({ host: '::1', port: 7000, db: 0, password: 'secret' });
  });

  it('gives both ends of the bus transport the same connection plus endless retries', () => {
    const topology = { mode: 'single', url: 'rediss://idm:x@h/2' } as const;
    for (const transport of [new RedisBusClient(topology, 500).createClient(), new RedisBusServer(topology, 500).createRedisClient()]) {
      expect(transport.options).toMatchObject({ host: 'h', db: 2, username: 'idm', password: 'x', tls: {}, lazyConnect: true });
      expect(transport.options.retryStrategy!(1_000_000)).toBe(500);
    }
  });

  it('refuses what it cannot honour instead of connecting somewhere else', () => {
    expect(() => redisConnectionOptions('redis://h/cache')).toThrow(/database must be a non-negative integer/);
    expect(() => redisConnectionOptions('http://h')).toThrow(/redis:\/\/ or rediss:\/\//);
  });
});

describe('redisTopologyOf', () => {
  const parse = (env: Record<string, string>) => redisTopologyOf(z.object(redisTopologyEnv).parse(env));

  it('is one server at REDIS_URL by default', () => {
    expect(parse({})).toEqual({ mode: 'single', url: 'redis://127.0.0.1:6379' });
  });

  it('reads Sentinels, master name and the separate credentials', () => {
    expect(parse({ REDIS_SENTINELS: 's1:26379, [::1]:26380', REDIS_SENTINEL_MASTER: 'idm', REDIS_PASSWORD: 'p', REDIS_SENTINEL_PASSWORD: 'sp' })).toEqual({
      mode: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      masterName: 'idm',
      password: 'p',
      sentinelPassword: 'sp',
    });
  });

  it('reads Cluster seed nodes', () => {
    expect(parse({ REDIS_CLUSTER_NODES: 'a:7000,b:7001', REDIS_USERNAME: 'u' })).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
      ],
      username: 'u',
    });
  });

  it('names what is missing or contradictory', () => {
    expect(parse({ REDIS_SENTINELS: 's:1' })).toEqual([expect.stringMatching(/^REDIS_SENTINEL_MASTER: required/)]);
    expect(parse({ REDIS_SENTINEL_MASTER: 'm' })).toEqual([expect.stringMatching(/^REDIS_SENTINELS: required/)]);
    expect(parse({ REDIS_SENTINELS: 's:1', REDIS_SENTINEL_MASTER: 'm', REDIS_CLUSTER_NODES: 'c:1' })).toEqual([expect.stringMatching(/cannot be combined/)]);
    expect(() => parse({ REDIS_CLUSTER_NODES: 'a:7000,nonsense' })).toThrow(/nonsense.{0,4} is not host:port/);
    expect(() => parse({ REDIS_CLUSTER_NODES: 'a:70000' })).toThrow(/not host:port/);
  });
});

describe('createRedisClient', () => {
  it('gives a single server the separate credentials unless its URL carries its own', () => {
    expect(createRedisClient({ mode: 'single', url: 'redis://h:1', username: 'u', password: 'p' }, { lazyConnect: true }).options).toMatchObject({
      host: 'h',
      port: 1,
      username: 'u',
      password: 'p',
    });
    expect(createRedisClient({ mode: 'single', url: 'redis://a:b@h:1', username: 'u', password: 'p' }, { lazyConnect: true }).options).toMatchObject({
      username: 'a',
      password: 'b',
    });
  });

  it('builds a Sentinel client that follows the master, and a Cluster with the node credentials', () => {
    const sentinel = createRedisClient({ mode: 'sentinel', sentinels: [{ host: 's', port: 26379 }], masterName: 'idm', password: 'p' }, { lazyConnect: true });
    expect(sentinel.options).toMatchObject({ sentinels: [{ host: 's', port: 26379 }], name: 'idm', password: 'p', lazyConnect: true });
    expect(sentinel.options.reconnectOnError!(new Error("READONLY You can't write against a read only replica."))).toBe(true);
    const cluster = createRedisClient(
      { mode: 'cluster', nodes: [{ host: 'a', port: 7000 }], password: 'p' },
      { lazyConnect: true, maxRetriesPerRequest: 1, connectionName: 'n' },
    ) as unknown as Cluster;
    expect(cluster).toBeInstanceOf(Cluster);
    expect(cluster.options.redisOptions).toMatchObject({ password: 'p', maxRetriesPerRequest: 1, connectionName: 'n' });
  });
});
