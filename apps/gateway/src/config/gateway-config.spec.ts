import { hostname } from 'node:os';
import { GatewayConfigError, parseGatewayConfig } from './gateway-config';
import { TestPki } from '@idm/test-kit';

describe('parseGatewayConfig', () => {
  it('applies the defaults', () => {
    expect(parseGatewayConfig({})).toEqual({
      port: 8081,
      host: '0.0.0.0',
      environment: 'dev',
      trustProxy: false,
      publicUrl: null,
      bodyLimit: 10485760,
      redis: { mode: 'single', url: 'redis://127.0.0.1:6379' },
      logLevel: 'info',
      clientIp: { header: null, position: 'last', trustedProxies: [] },
      clientRegistrationLimits: { perAddress: { limit: 20, windowSeconds: 60 }, perToken: { limit: 50, windowSeconds: 3600 } },
      rateLimit: { redis: { mode: 'single', url: 'redis://127.0.0.1:6379' }, timeoutMs: 250 },
      upstream: { connectTimeoutMs: 5000, headersTimeoutMs: 30000, bodyTimeoutMs: 30000, keepAliveTimeoutMs: 4000, connections: 256 },
      clientTimeouts: { headersTimeoutMs: 10000, requestTimeoutMs: 60000, bodyTimeoutMs: 10000 },
      configPollIntervalMs: 5000,
      externalLoginStartLimit: 30,
      heartbeatIntervalMs: 5000,
      shutdownTimeoutMs: 10000,
      masterKeys: null,
      tokenLookupTimeoutMs: 1000,
      tokenDpopNonceRequired: false,
      tls: null,
      bruteForce: {
        detectors: { perCredential: 20, perAddress: 100, perCredentialAddress: 10, windowSeconds: 900, lockoutSeconds: 900, maxLockoutSeconds: 86400, strikeMemorySeconds: 86400 },
        alerts: { url: null, attempts: 5, retryDelayMs: 1000 },
      },
      upstreamPolicy: {
        allowInternal: false,
        allow: [],
        deny: [],
        ownEndpoints: [
          { what: "this Gateway's listener", host: '0.0.0.0', port: 8081 },
          { what: "the installation's Redis", host: '127.0.0.1', port: 6379 },
        ],
      },
      tokenService: {
        cors: { origins: [], methods: ['GET', 'POST', 'OPTIONS'], headers: ['authorization', 'content-type'], credentials: false, maxAgeSeconds: 600 },
        forwardedFor: { header: null, order: 'FIRST' },
      },
      gatewayId: `${hostname()}:${process.pid}`,
      authRecordCountry: 'auto',
      authRecords: { queueLimit: 250_000, bufferLimit: 20_000, flushIntervalMs: 100 },
    });
  });

  it('reads the auth record settings; AUTH_RECORDS=false turns them off', () => {
    expect(parseGatewayConfig({ GATEWAY_ID: 'gw-1', AUTH_RECORDS_QUEUE_LIMIT: '5', AUTH_RECORDS_BUFFER: '7', AUTH_RECORDS_FLUSH_MS: '50' })).toMatchObject({
      gatewayId: 'gw-1',
      authRecords: { queueLimit: 5, bufferLimit: 7, flushIntervalMs: 50 },
    });
    expect(parseGatewayConfig({ AUTH_RECORDS: 'false' }).authRecords).toBeNull();
    expect(() => parseGatewayConfig({ GATEWAY_ID: 'bad id', AUTH_RECORDS_BUFFER: '0' })).toThrow(/GATEWAY_ID[\s\S]*AUTH_RECORDS_BUFFER/);
  });

  it('reads the upstream policy; its own listeners and both Redis are always in it', () => {
    const config = parseGatewayConfig({
      UPSTREAM_ALLOW_INTERNAL: 'true',
      UPSTREAM_ALLOW: '127.0.0.1, localhost',
      UPSTREAM_DENY: '10.0.0.0/8, manager.internal:8080',
      RATE_LIMIT_REDIS_URL: 'redis://limits.internal',
    });
    expect(config.upstreamPolicy).toEqual({
      allowInternal: true,
      allow: ['127.0.0.1', 'localhost'],
      deny: ['10.0.0.0/8', 'manager.internal:8080'],
      ownEndpoints: [
        { what: "this Gateway's listener", host: '0.0.0.0', port: 8081 },
        { what: "the installation's Redis", host: '127.0.0.1', port: 6379 },
        { what: 'the rate-limit Redis', host: 'limits.internal', port: 6379 },
      ],
    });
    expect(() => parseGatewayConfig({ UPSTREAM_DENY: 'not a host' })).toThrow(/UPSTREAM_DENY: 'not a host'/);
  });

  it("reaches Redis through Sentinels or a Cluster for every connection, and keeps their nodes out of proxies' reach", () => {
    const sentinel = parseGatewayConfig({ REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_MASTER: 'idm', REDIS_PASSWORD: 'p' });
    expect(sentinel.redis).toEqual({
      mode: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
      ],
      masterName: 'idm',
      password: 'p',
    });
    expect(sentinel.rateLimit.redis).toBe(sentinel.redis);
    const cluster = parseGatewayConfig({ REDIS_CLUSTER_NODES: 'c1:7000', RATE_LIMIT_REDIS_URL: 'redis://limits:6379' });
    expect(cluster.redis).toEqual({ mode: 'cluster', nodes: [{ host: 'c1', port: 7000 }] });
    expect(cluster.rateLimit.redis).toEqual({ mode: 'single', url: 'redis://limits:6379' });
    expect(cluster.upstreamPolicy.ownEndpoints).toContainEqual({ what: "the installation's Redis", host: 'c1', port: 7000 });
    expect(() => parseGatewayConfig({ REDIS_SENTINELS: 's1:26379' })).toThrow(/REDIS_SENTINEL_MASTER: required/);
  });

  it('coerces values and treats empty variables as unset', () => {
    const config = parseGatewayConfig({ GATEWAY_PORT: '9000', GATEWAY_TRUST_PROXY: 'true', GATEWAY_ENVIRONMENT: '', UPSTREAM_HEADERS_TIMEOUT_MS: '250' });
    expect(config).toMatchObject({ port: 9000, trustProxy: true, environment: 'dev', upstream: { headersTimeoutMs: 250 } });
  });

  it('reads the client IP settings and refuses a bad trusted proxy', () => {
    const config = parseGatewayConfig({ GATEWAY_CLIENT_IP_HEADER: 'X-Forwarded-For', GATEWAY_CLIENT_IP_POSITION: 'first', GATEWAY_TRUSTED_PROXIES: '10.0.0.0/8, ::1' });
    expect(config.clientIp).toEqual({ header: 'x-forwarded-for', position: 'first', trustedProxies: ['10.0.0.0/8', '::1'] });
    expect(() => parseGatewayConfig({ GATEWAY_TRUSTED_PROXIES: '10.0.0.0/33' })).toThrow(/GATEWAY_TRUSTED_PROXIES/);
  });

  it('reads the dynamic client registration limits as requests/seconds, and refuses anything else', () => {
    expect(parseGatewayConfig({ DCR_RATE_LIMIT_PER_ADDRESS: '5/60', DCR_RATE_LIMIT_PER_TOKEN: '100/86400' }).clientRegistrationLimits).toEqual({
      perAddress: { limit: 5, windowSeconds: 60 },
      perToken: { limit: 100, windowSeconds: 86400 },
    });
    for (const bad of ['5', '0/60', '5/0', '5/86401', '-1/60', '5/60s', ' 5/60'])
      expect(() => parseGatewayConfig({ DCR_RATE_LIMIT_PER_ADDRESS: bad })).toThrow(/DCR_RATE_LIMIT_PER_ADDRESS/);
  });

  it('reads the client timeouts and refuses a head timeout longer than the whole request', () => {
    expect(
      parseGatewayConfig({ GATEWAY_HEADERS_TIMEOUT_MS: '2000', GATEWAY_REQUEST_TIMEOUT_MS: '5000', GATEWAY_BODY_TIMEOUT_MS: '3000', UPSTREAM_CONNECTIONS: '8' }),
    ).toMatchObject({
      clientTimeouts: { headersTimeoutMs: 2000, requestTimeoutMs: 5000, bodyTimeoutMs: 3000 },
      upstream: { connections: 8 },
    });
    expect(() => parseGatewayConfig({ GATEWAY_HEADERS_TIMEOUT_MS: '5000', GATEWAY_REQUEST_TIMEOUT_MS: '2000' })).toThrow(/GATEWAY_HEADERS_TIMEOUT_MS/);
    expect(() => parseGatewayConfig({ UPSTREAM_CONNECTIONS: '0' })).toThrow(/UPSTREAM_CONNECTIONS/);
  });

  it('reads the public URL (token issuers) as a base URL, and refuses anything else', () => {
    expect(parseGatewayConfig({ GATEWAY_PUBLIC_URL: 'https://API.example.com/' }).publicUrl).toBe('https://api.example.com');
    expect(parseGatewayConfig({ GATEWAY_PUBLIC_URL: 'https://example.com:8443/gw/' }).publicUrl).toBe('https://example.com:8443/gw');
    for (const bad of ['api.example.com', 'ftp://example.com', 'https://u:p@example.com', 'https://example.com/?x=1', 'https://example.com/#f']) {
      expect(() => parseGatewayConfig({ GATEWAY_PUBLIC_URL: bad })).toThrow(/GATEWAY_PUBLIC_URL/);
    }
  });

  it('fails naming every bad variable', () => {
    expect(() => parseGatewayConfig({ GATEWAY_PORT: 'eighty', REDIS_URL: 'http://x', LOG_LEVEL: 'loud', GATEWAY_ENVIRONMENT: 'Not Valid' })).toThrow(GatewayConfigError);
    try {
      parseGatewayConfig({ GATEWAY_PORT: 'eighty', REDIS_URL: 'http://x', LOG_LEVEL: 'loud', GATEWAY_ENVIRONMENT: 'Not Valid' });
    } catch (err) {
      const names = (err as GatewayConfigError).problems.map((p) => p.split(':')[0]).sort();
      expect(names).toEqual(['GATEWAY_ENVIRONMENT', 'GATEWAY_PORT', 'LOG_LEVEL', 'REDIS_URL']);
    }
  });

  describe('HTTPS listener (GATEWAY_TLS_*)', () => {
    let pki: TestPki;
    let files: { cert: string; key: string; otherKey: string };
    const problemsOf = (env: Record<string, string>) => {
      try {
        parseGatewayConfig(env);
      } catch (err) {
        return (err as GatewayConfigError).problems;
      }
      throw new Error('expected a GatewayConfigError');
    };
    beforeAll(async () => {
      pki = await TestPki.create();
      const server = await pki.issue('server', { subject: '/CN=localhost' });
      const other = await pki.issue('other', { subject: '/CN=other' });
      files = { cert: server.certFile, key: server.keyFile, otherKey: other.keyFile };
    });
    afterAll(() => pki.remove());

    it('reads the certificate and key when all three are set', () => {
      const config = parseGatewayConfig({ GATEWAY_TLS_PORT: '8443', GATEWAY_TLS_CERT: files.cert, GATEWAY_TLS_KEY: files.key });
      expect(config.tls).toMatchObject({ port: 8443, certFile: files.cert, keyFile: files.key });
      expect(config.tls!.cert.toString()).toContain('BEGIN CERTIFICATE');
    });

    it('wants all three or none, naming the missing ones', () => {
      expect(problemsOf({ GATEWAY_TLS_PORT: '8443' }).map((p) => p.split(':')[0])).toEqual(['GATEWAY_TLS_CERT', 'GATEWAY_TLS_KEY']);
      expect(problemsOf({ GATEWAY_TLS_CERT: files.cert, GATEWAY_TLS_KEY: files.key })).toEqual([expect.stringMatching(/^GATEWAY_TLS_PORT: required/)]);
    });

    it('names the variable whose file is missing, unusable or mismatched', () => {
      expect(problemsOf({ GATEWAY_TLS_PORT: '8443', GATEWAY_TLS_CERT: '/nonexistent/cert.pem', GATEWAY_TLS_KEY: files.key })).toEqual([
        expect.stringMatching(/^GATEWAY_TLS_CERT: cannot read .*ENOENT/),
      ]);
      expect(problemsOf({ GATEWAY_TLS_PORT: '8443', GATEWAY_TLS_CERT: files.key, GATEWAY_TLS_KEY: files.cert }).map((p) => p.split(':')[0])).toEqual([
        'GATEWAY_TLS_CERT',
        'GATEWAY_TLS_KEY',
      ]);
      expect(problemsOf({ GATEWAY_TLS_PORT: '8443', GATEWAY_TLS_CERT: files.cert, GATEWAY_TLS_KEY: files.otherKey })).toEqual([
        expect.stringMatching(/^GATEWAY_TLS_KEY: .* does not match the certificate/),
      ]);
      expect(problemsOf({ GATEWAY_TLS_PORT: 'https', GATEWAY_TLS_CERT: files.cert, GATEWAY_TLS_KEY: files.key }).map((p) => p.split(':')[0])).toEqual(['GATEWAY_TLS_PORT']);
    });
  });
});
