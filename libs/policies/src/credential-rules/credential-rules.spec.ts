import type { ConfigSnapshot } from '@idm/config-bus';
import { generateApiKey } from '@idm/domain';
import { compileEnvironment } from '../compiled-environment';
import { createRequestContext } from '../policy';
import { configSnapshot, snapshotCredential, snapshotProxy } from '@idm/test-kit';

const PROXY = '11111111-1111-4111-8111-111111111111';
const OTHER = '22222222-2222-4222-8222-222222222222';
// Wednesday 2025-01-15 10:30 UTC = 13:30 in Istanbul.
const WEDNESDAY_1030_UTC = Date.UTC(2025, 0, 15, 10, 30);

function environment(access: Record<string, unknown>, now = WEDNESDAY_1030_UTC) {
  const key = generateApiKey();
  const snapshot: ConfigSnapshot = configSnapshot({
    environment: 't',
    proxies: [
      snapshotProxy({
        id: PROXY,
        projectId: 'p',
        name: 'orders',
        basePath: '/orders',
        upstreamUrl: 'http://127.0.0.1:1',
        methods: ['GET', 'POST', 'DELETE'],
        policies: [{ type: 'api-key', config: {} }],
      }),
    ],
    credentials: [snapshotCredential({ id: 'c1', projectId: 'p', username: 'app', access, apiKeys: [{ id: 'k1', prefix: key.prefix, hash: key.hash, expiresAt: null }] })],
  });
  const proxy = compileEnvironment(snapshot, { now: () => now }).route('/orders')!;
  return (method: string, path: string, clientIp = '198.51.100.7') => {
    const ctx = createRequestContext({ method, path, headers: { 'x-api-key': key.key }, query: '', clientIp });
    return proxy.runPolicies(ctx);
  };
}

describe('credential rules', () => {
  it('allow everything when the credential has none', () => {
    expect(environment({})('DELETE', '/orders/1')).toBeUndefined();
  });

  describe('ACL', () => {
    it.each([
      [{ allowedProxies: [OTHER] }, 'GET', '/orders/1', 'acl_proxy_denied'],
      [{ deniedProxies: [PROXY] }, 'GET', '/orders/1', 'acl_proxy_denied'],
      [{ allowedMethods: ['GET'] }, 'POST', '/orders/1', 'acl_method_denied'],
      [{ deniedMethods: ['DELETE'] }, 'DELETE', '/orders/1', 'acl_method_denied'],
      [{ allowedEndpoints: [{ path: '/items/*' }] }, 'GET', '/orders/admin', 'acl_endpoint_denied'],
      [{ allowedEndpoints: [{ path: '/items/*', methods: ['GET'] }] }, 'POST', '/orders/items/1', 'acl_endpoint_denied'],
      [{ deniedEndpoints: [{ path: '/admin/**' }] }, 'GET', '/orders/admin', 'acl_endpoint_denied'],
      [{ deniedEndpoints: [{ path: '/admin/**', proxyId: PROXY }] }, 'GET', '/orders/admin/x/y', 'acl_endpoint_denied'],
    ])('%j refuses %s %s with %s', (acl, method, path, code) => {
      expect(environment({ acl })(method, path)).toMatchObject({ status: 403, code, message: expect.any(String) });
    });

    it.each([
      [{ allowedProxies: [PROXY] }, 'GET', '/orders/1'],
      [{ allowedEndpoints: [{ path: '/items/*' }] }, 'GET', '/orders/items/42'],
      [{ allowedEndpoints: [{ path: '/' }] }, 'GET', '/orders'],
      [{ deniedEndpoints: [{ path: '/admin/**', proxyId: OTHER }] }, 'GET', '/orders/admin'],
      [{ deniedEndpoints: [{ path: '/admin', methods: ['DELETE'] }] }, 'GET', '/orders/admin'],
    ])('%j lets %s %s through', (acl, method, path) => {
      expect(environment({ acl })(method, path)).toBeUndefined();
    });
  });

  describe('IP groups', () => {
    const office = { name: 'office', cidrs: ['198.51.100.0/24', '2001:db8::/32'] };
    it('allows members of an allowed group (IPv4, IPv4-mapped, IPv6) and denies the rest', () => {
      const call = environment({ ip: { allow: [office] } });
      expect(call('GET', '/orders', '198.51.100.7')).toBeUndefined();
      expect(call('GET', '/orders', '::ffff:198.51.100.7')).toBeUndefined();
      expect(call('GET', '/orders', '2001:db8::1')).toBeUndefined();
      expect(call('GET', '/orders', '203.0.113.1')).toMatchObject({ status: 403, code: 'ip_denied' });
      expect(call('GET', '/orders', '2001:db9::1')).toMatchObject({ status: 403, code: 'ip_denied' });
    });
    it('denies members of a denied group, even when also allowed', () => {
      const call = environment({ ip: { allow: [office], deny: [{ name: 'bad', cidrs: ['198.51.100.66'] }] } });
      expect(call('GET', '/orders', '198.51.100.66')).toMatchObject({ code: 'ip_denied' });
      expect(call('GET', '/orders', '198.51.100.67')).toBeUndefined();
    });
  });

  describe('geo', () => {
    it('allows and denies by country from the shipped database; unknown locations follow the default', () => {
      const onlyTurkey = environment({ geo: { allowedCountries: ['TR'] } });
      expect(onlyTurkey('GET', '/orders', '85.105.1.1')).toBeUndefined(); // TR
      expect(onlyTurkey('GET', '/orders', '8.8.8.8')).toMatchObject({ status: 403, code: 'geo_denied' });
      expect(onlyTurkey('GET', '/orders', '10.0.0.1')).toBeUndefined(); // private: unknown -> allow (default)
      const noUs = environment({ geo: { deniedCountries: ['US'], unknownLocation: 'deny' } });
      expect(noUs('GET', '/orders', '8.8.8.8')).toMatchObject({ code: 'geo_denied' });
      expect(noUs('GET', '/orders', '2a00:1450:4001::1')).toBeUndefined(); // DE over IPv6
      expect(noUs('GET', '/orders', '10.0.0.1')).toMatchObject({ status: 403, code: 'geo_unknown_location' });
    });
  });

  describe('time windows', () => {
    it('ALLOW: only inside a window, in the rule time zone', () => {
      const weekdaysNineToFive = { mode: 'allow', timeZone: 'Europe/Istanbul', windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00' }] };
      expect(environment({ time: weekdaysNineToFive })('GET', '/orders')).toBeUndefined();
      expect(environment({ time: weekdaysNineToFive }, Date.UTC(2025, 0, 15, 14, 0))('GET', '/orders')).toMatchObject({ status: 403, code: 'time_restricted' }); // 17:00 local
      expect(environment({ time: weekdaysNineToFive }, Date.UTC(2025, 0, 18, 10, 0))('GET', '/orders')).toMatchObject({ code: 'time_restricted' }); // Saturday
    });
    it('RESTRICT: never inside a window; dates and whole days', () => {
      const holiday = { mode: 'restrict', timeZone: 'UTC', windows: [{ dates: ['2025-01-15'] }] };
      expect(environment({ time: holiday })('GET', '/orders')).toMatchObject({ status: 403, code: 'time_restricted' });
      expect(environment({ time: holiday }, Date.UTC(2025, 0, 16, 10, 0))('GET', '/orders')).toBeUndefined();
    });
  });

  it('evaluates in order ACL, IP, geo, time', () => {
    const all = {
      acl: { deniedMethods: ['POST'] },
      ip: { allow: [{ name: 'x', cidrs: ['10.0.0.0/8'] }] },
      geo: { unknownLocation: 'deny' },
      time: { mode: 'restrict', windows: [{}] },
    };
    const call = environment(all);
    expect(call('POST', '/orders', '8.8.8.8')).toMatchObject({ code: 'acl_method_denied' });
    expect(call('GET', '/orders', '8.8.8.8')).toMatchObject({ code: 'ip_denied' });
    expect(call('GET', '/orders', '10.1.1.1')).toMatchObject({ code: 'geo_unknown_location' });
    const call2 = environment({ ...all, geo: undefined });
    expect(call2('GET', '/orders', '10.1.1.1')).toMatchObject({ code: 'time_restricted' });
  });

  it('refuses every request of a credential whose rules cannot be enforced (fail closed)', () => {
    expect(environment({ acl: { allowedMethods: ['FETCH'] } })('GET', '/orders')).toMatchObject({ status: 403, code: 'credential_rules_invalid' });
    // A rate limit without a store on this host.
    expect(environment({ rateLimit: { limits: [{ limit: 1, windowSeconds: 1 }] } })('GET', '/orders')).toMatchObject({ status: 403, code: 'credential_rules_invalid' });
  });
});
