import { ConfigError, parseManagerConfig } from './manager-config';

const base = { IDM_ADMIN_PASSWORD: 'a long enough password' };

describe('MANAGER_TRUST_PROXY', () => {
  it.each([
    [undefined, false],
    ['false', false],
    ['true', true],
    ['2', 2],
    ['10.0.0.0/8, 127.0.0.1', '10.0.0.0/8, 127.0.0.1'],
    ['::1,fd00::/8', '::1,fd00::/8'],
  ])('reads %p as %p', (value, expected) => {
    expect(parseManagerConfig({ ...base, ...(value === undefined ? {} : { MANAGER_TRUST_PROXY: value }) }).MANAGER_TRUST_PROXY).toEqual(expected);
  });

  it('refuses anything else, naming the variable', () => {
    expect(() => parseManagerConfig({ ...base, MANAGER_TRUST_PROXY: 'yes please' })).toThrow(ConfigError);
    expect(() => parseManagerConfig({ ...base, MANAGER_TRUST_PROXY: 'yes please' })).toThrow(/MANAGER_TRUST_PROXY/);
  });
});

describe('upstream policy variables', () => {
  it("always hold the Manager's listener, Redis and PostgreSQL as the installation's endpoints", () => {
    const config = parseManagerConfig({
      ...base,
      MANAGER_PORT: '9000',
      REDIS_URL: 'redis://cache.internal',
      DATABASE_URL: 'postgres://db.internal:6432/idm',
      UPSTREAM_ALLOW: '127.0.0.1',
      UPSTREAM_DENY: '10.9.0.0/16',
    });
    expect(config.upstreamPolicy).toEqual({
      allowInternal: false,
      allow: ['127.0.0.1'],
      deny: ['10.9.0.0/16'],
      ownEndpoints: [
        { what: "the Manager's admin listener", host: '0.0.0.0', port: 9000 },
        { what: "the installation's Redis", host: 'cache.internal', port: 6379 },
        { what: "the installation's PostgreSQL", host: 'db.internal', port: 6432 },
      ],
    });
  });

  it('names bad entries together with every other bad variable', () => {
    expect(() => parseManagerConfig({ ...base, MANAGER_PORT: 'eighty', UPSTREAM_DENY: 'not a host', UPSTREAM_ALLOW_INTERNAL: 'yes' })).toThrow(
      /MANAGER_PORT[\s\S]*UPSTREAM_ALLOW_INTERNAL: must be true or false[\s\S]*UPSTREAM_DENY: 'not a host'/,
    );
  });
});

describe('Redis deployment variables', () => {
  it('reach a Cluster (its nodes are installation endpoints) or Sentinels instead of REDIS_URL', () => {
    const cluster = parseManagerConfig({ ...base, REDIS_CLUSTER_NODES: 'r1:7000,r2:7001', REDIS_PASSWORD: 'pw' });
    expect(cluster.redis).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'r1', port: 7000 },
        { host: 'r2', port: 7001 },
      ],
      password: 'pw',
    });
    expect(cluster.upstreamPolicy.ownEndpoints).toContainEqual({ what: "the installation's Redis", host: 'r2', port: 7001 });
    expect(parseManagerConfig({ ...base, REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_MASTER: 'idm' }).redis).toMatchObject({ mode: 'sentinel', masterName: 'idm' });
  });

  it('names an incomplete Sentinel setting together with every other bad variable', () => {
    expect(() => parseManagerConfig({ ...base, REDIS_SENTINELS: 's:26379' })).toThrow(/REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS/);
    expect(() => parseManagerConfig({ ...base, MANAGER_PORT: 'eighty', REDIS_CLUSTER_NODES: 'r1' })).toThrow(/MANAGER_PORT[\s\S]*REDIS_CLUSTER_NODES: "r1" is not host:port/);
  });
});
