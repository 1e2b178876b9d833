import type { SnapshotIdentitySource } from '@idm/config-bus';
import { GatewayIdentitySources } from './gateway-identity-sources';

/** How published sources become checkers: unusable ones fail closed with a code, disabled ones verify no one. */
describe('GatewayIdentitySources', () => {
  const entry = (name: string, extra: Partial<SnapshotIdentitySource> = {}): SnapshotIdentitySource => ({
    id: `id-${name}`,
    name,
    type: 'ldap',
    projectId: null,
    config: { url: 'ldap://127.0.0.1:1', bind: { mode: 'direct', dnTemplate: 'uid={username},dc=example,dc=org' } },
    secret: null,
    roleMappings: {},
    timeoutMs: 500,
    cacheTtlSeconds: 60,
    enabled: true,
    ...extra,
  });

  it('a source whose secret cannot be opened or whose config it does not understand answers source_misconfigured, never a login', async () => {
    const unusable: string[] = [];
    const sources = new GatewayIdentitySources({ secrets: null, onUnusable: (name) => unusable.push(name) });
    const view = sources.directoryFor([
      entry('sealed', { secret: 'enc:v1:m1:not-openable' }),
      entry('garbled', { config: { url: 'gopher://x' } }),
      entry('project', { projectId: 'p1' }),
    ]);
    try {
      expect(unusable).toEqual(['sealed', 'garbled']);
      expect(view.scopeOf('sealed')).toBeNull();
      expect(view.scopeOf('project')).toBe('p1');
      expect(view.scopeOf('missing')).toBeUndefined();
      expect(await view.login(['sealed'], 'alice', 'pw')).toEqual({ outcome: 'unavailable', code: 'source_misconfigured', source: 'sealed' });
      expect(await view.login(['garbled'], 'alice', 'pw')).toEqual({ outcome: 'unavailable', code: 'source_misconfigured', source: 'garbled' });
    } finally {
      await sources.close();
    }
  });

  it('a disabled source is skipped: it verifies no one and reports no outage', async () => {
    const sources = new GatewayIdentitySources();
    const view = sources.directoryFor([entry('off', { enabled: false })]);
    try {
      expect(await view.login(['off'], 'alice', 'pw')).toEqual({ outcome: 'rejected' });
    } finally {
      await sources.close();
    }
  });
});
