import { redisConnectionOptions, redisTransportOptions } from './redis-connection';

describe('redisConnectionOptions', () => {
  it('keeps TLS, user, password and database of the URL', () => {
    expect(redisConnectionOptions('rediss://idm:p%40ss@redis.example:6380/3')).toEqual({ host: 'redis.example', port: 6380, db: 3, username: 'idm', password: 'p@ss', tls: {} });
    expect(redisConnectionOptions('redis://127.0.0.1')).toEqual({ host: '127.0.0.1', port: 6379, db: 0 });
    expect(redisConnectionOptions('redis://:secret@[::1]:7000')).toEqual({ host: '::1', port: 7000, db: 0, password: 'secret' });
  });

  it('gives the Nest transport the same connection plus endless retries', () => {
    expect(redisTransportOptions('rediss://idm:x@h/2', 500)).toMatchObject({ host: 'h', db: 2, username: 'idm', password: 'x', tls: {}, retryDelay: 500, retryAttempts: Number.MAX_SAFE_INTEGER });
  });

  it('refuses what it cannot honour instead of connecting somewhere else', () => {
    expect(() => redisConnectionOptions('redis://h/cache')).toThrow(/database must be a non-negative integer/);
    expect(() => redisConnectionOptions('http://h')).toThrow(/redis:\/\/ or rediss:\/\//);
  });
});
