import type { ConfigSnapshot } from '@idm/config-bus';
import { compileEnvironment } from './compiled-environment';
import { createRequestContext } from './policy';
import { configSnapshot, snapshotProxy } from '@idm/test-kit';

const proxy = (id: string, basePath: string, extra: Record<string, unknown> = {}) =>
  snapshotProxy({ id, projectId: 'proj', name: id, basePath, upstreamUrl: 'http://upstream.test:8080/base/', methods: ['GET', 'POST'], ...extra });
const snapshot = (proxies: ConfigSnapshot['proxies']): ConfigSnapshot => configSnapshot({ environment: 'dev', revision: 7, proxies });

describe('compileEnvironment', () => {
  it('routes by longest base path and parses the upstream once', () => {
    const env = compileEnvironment(snapshot([proxy('a', '/api'), proxy('b', '/api/admin')]));
    expect(env.revision).toBe(7);
    expect(env.route('/api/users')?.id).toBe('a');
    expect(env.route('/api/admin/x')?.id).toBe('b');
    expect(env.route('/apix')).toBeUndefined();
    expect(env.route('/api')).toMatchObject({ upstreamOrigin: 'http://upstream.test:8080', upstreamPath: '/base' });
  });

  it('rejects methods outside the list with 405 and Allow', () => {
    const p = compileEnvironment(snapshot([proxy('a', '/api')])).route('/api')!;
    expect(p.checkMethod('GET')).toBeUndefined();
    expect(p.checkMethod('DELETE')).toMatchObject({ status: 405, code: 'method_not_allowed', headers: { allow: 'GET, POST' } });
  });

  it('fails closed for a proxy whose chain does not compile, without affecting others', () => {
    const env = compileEnvironment(snapshot([proxy('a', '/api', { policies: [{ type: 'from-the-future', config: {} }] }), proxy('b', '/ok')]));
    expect(env.route('/api')?.unavailable).toMatchObject({ status: 503, code: 'proxy_unavailable' });
    expect(env.problems).toEqual([{ proxyId: 'a', basePath: '/api', message: expect.stringMatching(/from-the-future/) }]);
    expect(env.route('/ok')?.unavailable).toBeNull();
  });

  it('runs an empty chain as a pass and is immutable', () => {
    const env = compileEnvironment(snapshot([proxy('a', '/api')]));
    const ctx = createRequestContext({ method: 'GET', path: '/api', headers: {}, query: '', clientIp: '::1' });
    expect(env.route('/api')!.runPolicies(ctx)).toBeUndefined();
    expect(Object.isFrozen(env.route('/api'))).toBe(true);
    expect(Object.isFrozen(env.proxies)).toBe(true);
  });

  it('runs policies in order and stops at the first rejection', async () => {
    const env = compileEnvironment(
      snapshot([
        proxy('a', '/api', {
          policies: [
            { type: 'api-key', config: {} },
            { type: 'basic-auth', config: {} },
          ],
        }),
      ]),
    );
    const ctx = createRequestContext({ method: 'GET', path: '/api', headers: {}, query: '', clientIp: '::1' });
    expect(await env.route('/api')!.runPolicies(ctx)).toMatchObject({ code: 'missing_credentials', headers: { 'www-authenticate': 'ApiKey header="x-api-key"' } });
  });
});
