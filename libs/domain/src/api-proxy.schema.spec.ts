import { createApiProxySchema } from './api-proxy.schema';
import { generateApiKey, hashApiKey } from './api-key';

describe('API proxy schema', () => {
  const valid = { name: 'orders', basePath: '/orders/v1', upstreamUrl: 'https://orders.internal:8443/api' };

  it('fills defaults: every method, no policies, no environments', () => {
    const parsed = createApiProxySchema.parse(valid);
    expect(parsed.methods).toContain('GET');
    expect(parsed.policies).toEqual([]);
    expect(parsed.environments).toEqual([]);
  });

  it.each(['/', '/a/', 'a', '/a//b', '/a/./b', '/a b', '/auth/x', '/metrics'])('rejects base path %s', (basePath) => {
    expect(createApiProxySchema.safeParse({ ...valid, basePath }).success).toBe(false);
  });

  it.each(['not a url', 'ftp://x/y', 'http://u:p@h/', 'http://h/?q=1', 'http://h/#f'])('rejects upstream %s', (upstreamUrl) => {
    expect(createApiProxySchema.safeParse({ ...valid, upstreamUrl }).success).toBe(false);
  });

  it('rejects duplicate methods and unknown fields', () => {
    expect(createApiProxySchema.safeParse({ ...valid, methods: ['GET', 'GET'] }).success).toBe(false);
    expect(createApiProxySchema.safeParse({ ...valid, colour: 'red' }).success).toBe(false);
  });
});

describe('API keys', () => {
  it('are unique, carry their visible prefix, and hash deterministically', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a.key).not.toBe(b.key);
    expect(a.key.startsWith(a.prefix + '_')).toBe(true);
    expect(a.prefix).toMatch(/^idm_[A-Za-z0-9_-]{8}$/);
    expect(hashApiKey(a.key)).toBe(a.hash);
    expect(a.hash).not.toContain(a.key);
  });
});
