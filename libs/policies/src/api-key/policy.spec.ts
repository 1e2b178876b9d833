import type { ConfigSnapshot } from '@idm/config-bus';
import { generateApiKey } from '@idm/domain';
import { compileEnvironment } from '../compiled-environment';
import { createRequestContext } from '../policy';
import { configSnapshot, snapshotCredential, snapshotProxy } from '@idm/test-kit';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const live = generateApiKey();
const expiredKey = generateApiKey();
const ofDisabled = generateApiKey();
const ofExpired = generateApiKey();
const foreign = generateApiKey();

function snapshot(policyConfig: Record<string, unknown>): ConfigSnapshot {
  const cred = (id: string, projectId: string, keys: { hash: string; expiresAt?: string }[], extra = {}) =>
    snapshotCredential({
      id,
      projectId,
      username: `user-${id}`,
      apiKeys: keys.map((k, i) => ({ id: `${id}-k${i}`, prefix: 'idm_x', hash: k.hash, expiresAt: k.expiresAt ?? null })),
      ...extra,
    });
  return configSnapshot({
    generatedAt: new Date(NOW).toISOString(),
    proxies: [
      snapshotProxy({ id: 'p1', name: 'demo', basePath: '/demo', upstreamUrl: 'http://127.0.0.1:1', methods: ['GET'], policies: [{ type: 'api-key', config: policyConfig }] }),
    ],
    credentials: [
      cred('c1', 'proj-a', [{ hash: live.hash }, { hash: expiredKey.hash, expiresAt: '2029-12-31T23:59:59Z' }]),
      cred('c2', 'proj-a', [{ hash: ofDisabled.hash }], { enabled: false }),
      cred('c3', 'proj-a', [{ hash: ofExpired.hash }], { expiresAt: '2020-01-01T00:00:00Z' }),
      cred('c4', 'proj-b', [{ hash: foreign.hash }]),
    ],
  });
}

function run(policyConfig: Record<string, unknown>, headers: Record<string, string>, query = '') {
  const proxy = compileEnvironment(snapshot(policyConfig), { now: () => NOW }).route('/demo')!;
  const ctx = createRequestContext({ method: 'GET', path: '/demo', headers, query, clientIp: '127.0.0.1' });
  return { outcome: proxy.runPolicies(ctx), ctx };
}

describe('api-key policy', () => {
  it('accepts a key of the proxy project from the default header and strips it', () => {
    const { outcome, ctx } = run({}, { 'x-api-key': live.key });
    expect(outcome).toBeUndefined();
    expect(ctx.identity).toEqual({ credentialId: 'c1', username: 'user-c1', projectId: 'proj-a' });
    expect(ctx.strippedHeaders).toEqual(['x-api-key']);
  });

  it('reads a custom header case-insensitively and keeps it when stripCredential is false', () => {
    const { outcome, ctx } = run({ header: 'X-Key', stripCredential: false }, { 'x-key': live.key });
    expect(outcome).toBeUndefined();
    expect(ctx.strippedHeaders).toEqual([]);
  });

  it('reads the query parameter only when enabled, and removes just that parameter', () => {
    const query = `a=1&api_key=${encodeURIComponent(live.key)}&b=%20x`;
    expect(run({}, {}, query).outcome).toMatchObject({ status: 401, code: 'missing_credentials' });
    const { outcome, ctx } = run({ queryParam: 'api_key' }, {}, query);
    expect(outcome).toBeUndefined();
    expect(ctx.query).toBe('a=1&b=%20x');
  });

  it('answers 401 with an ApiKey challenge naming header and query parameter', () => {
    expect(run({}, {}).outcome).toEqual({ status: 401, code: 'missing_credentials', message: expect.any(String), headers: { 'www-authenticate': 'ApiKey header="x-api-key"' } });
    expect(run({ queryParam: 'k' }, {}).outcome).toMatchObject({ headers: { 'www-authenticate': 'ApiKey header="x-api-key", query="k"' } });
  });

  it.each([
    ['an unknown key', 'idm_nope_nope', 'invalid_api_key'],
    ['a key of another project', foreign.key, 'invalid_api_key'],
    ['a key of a disabled credential', ofDisabled.key, 'credential_disabled'],
    ['a key of an expired credential', ofExpired.key, 'credential_expired'],
    ['an expired key', expiredKey.key, 'api_key_expired'],
  ])('rejects %s', (_, key, code) => {
    const { outcome, ctx } = run({}, { 'x-api-key': key });
    expect(outcome).toMatchObject({ status: 401, code });
    expect(ctx.identity).toBeNull();
  });
});
