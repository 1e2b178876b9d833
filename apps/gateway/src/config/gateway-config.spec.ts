import { GatewayConfigError, parseGatewayConfig } from './gateway-config';

describe('parseGatewayConfig', () => {
  it('applies the defaults', () => {
    expect(parseGatewayConfig({})).toEqual({
      port: 8081, host: '0.0.0.0', environment: 'dev', trustProxy: false, bodyLimit: 10485760,
      redisUrl: 'redis://127.0.0.1:6379', logLevel: 'info',
      clientIp: { header: null, position: 'last', trustedProxies: [] },
      rateLimit: { redisUrl: 'redis://127.0.0.1:6379', timeoutMs: 250 },
      upstream: { connectTimeoutMs: 5000, headersTimeoutMs: 30000, bodyTimeoutMs: 30000, keepAliveTimeoutMs: 4000 },
      configPollIntervalMs: 5000, shutdownTimeoutMs: 10000,
      masterKeys: null, tokenLookupTimeoutMs: 1000,
    });
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

  it('fails naming every bad variable', () => {
    expect(() => parseGatewayConfig({ GATEWAY_PORT: 'eighty', REDIS_URL: 'http://x', LOG_LEVEL: 'loud', GATEWAY_ENVIRONMENT: 'Not Valid' })).toThrow(GatewayConfigError);
    try {
      parseGatewayConfig({ GATEWAY_PORT: 'eighty', REDIS_URL: 'http://x', LOG_LEVEL: 'loud', GATEWAY_ENVIRONMENT: 'Not Valid' });
    } catch (err) {
      const names = (err as GatewayConfigError).problems.map((p) => p.split(':')[0]).sort();
      expect(names).toEqual(['GATEWAY_ENVIRONMENT', 'GATEWAY_PORT', 'LOG_LEVEL', 'REDIS_URL']);
    }
  });
});
