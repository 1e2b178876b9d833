import { eventually } from '@idm/test-kit';
import { randomBytes, randomUUID } from 'node:crypto';
import { startAdminFixture, type AdminFixture } from './support/admin-fixture';
import type { InProcessManager } from './support/in-process-manager';

/**
 * A project key manager taking its introspection client secret from the project secret manager
 * (clientSecretId; #14 §5): only a shared-secret of its own project, never for a System key
 * manager (422 secret_not_usable, nothing written), 403 without key-manager:write, audited,
 * published with the key manager (sealed), republished when the secret rotates, the secret kept
 * from deletion while used, and named by the secret's name in APIops bundles.
 */
describe('key managers with a client secret from the project secret manager', () => {
  const s = randomBytes(3).toString('hex');
  let f: AdminFixture;
  let m: InProcessManager;
  const ids: Record<string, string> = {};
  let editorToken = '';
  const first = `first-${randomBytes(12).toString('hex')}`;
  const second = `second-${randomBytes(12).toString('hex')}`;
  const ok = (method: string, url: string, body?: unknown) => f.ok(method, url, body);
  const opaque = (name: string, extra: Record<string, unknown>) => ({
    name: `${name}-${s}`,
    issuer: `https://${name}-${s}.example.com`,
    introspectionEndpoint: `https://${name}-${s}.example.com/introspect`,
    tokenTypes: 'opaque',
    clientId: 'gateway',
    ...extra,
  });
  const published = () =>
    eventually(
      () => f.published(),
      (sn) => sn?.keyManagers.some((k) => k.id === ids.km) === true,
      { what: 'the key manager to be published' },
    );
  /** The client secret a Gateway would open from the published reference's current version. */
  const clientSecretIn = (ref: { versions: { sealed: string | null; retiresAt: string | null }[] }) => {
    const jwk = JSON.parse(f.box.open(ref.versions.find((v) => v.retiresAt === null)!.sealed!)) as { k: string };
    return Buffer.from(jwk.k, 'base64url').toString('utf8');
  };

  beforeAll(async () => {
    f = await startAdminFixture('kms', s, ['project-editor']);
    m = f.m;
    Object.assign(ids, { p1: f.p1, p2: f.p2 });
    editorToken = f.tokens['project-editor'];
    const shared = (p: string, name: string, plain: string) =>
      ok('POST', `/api/v1/projects/${p}/secrets`, { name, kind: 'shared-secret', material: Buffer.from(plain).toString('base64url') });
    ids.secret = (await shared(ids.p1, 'introspection', first)).id;
    ids.foreign = (await shared(ids.p2, 'introspection', first)).id;
    ids.other = (await ok('POST', `/api/v1/projects/${ids.p1}/secrets`, { name: 'hmac-16', kind: 'shared-secret', material: randomBytes(16).toString('base64url') })).id;
  }, 300_000); // an in-process Manager took 70 s to boot under load

  afterAll(() => f?.close());

  it('refuses a secret of another project, an unknown one, one for a System key manager, and both ways at once; writes nothing', async () => {
    const before = (await ok('GET', '/api/v1/key-managers')).length;
    const refused = async (body: Record<string, unknown>) => {
      const r = await m.request('POST', '/api/v1/key-managers', body);
      expect(r).toMatchObject({ status: 422, body: { code: 'secret_not_usable', errors: [{ path: 'clientSecretId' }] } });
      expect(JSON.stringify(r.body)).not.toContain(first);
    };
    await refused(opaque('foreign', { projectId: ids.p1, clientSecretId: ids.foreign }));
    await refused(opaque('unknown', { projectId: ids.p1, clientSecretId: randomUUID() }));
    await refused(opaque('system', { projectId: null, clientSecretId: ids.secret }));
    const trust = await ok('POST', `/api/v1/projects/${ids.p1}/secrets`, {
      name: 'pub',
      kind: 'public-key',
      material: { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' },
    });
    await refused(opaque('kind', { projectId: ids.p1, clientSecretId: trust.id }));
    const both = await m.request('POST', '/api/v1/key-managers', opaque('both', { projectId: ids.p1, clientSecretId: ids.secret, clientSecret: 'inline' }));
    expect(both).toMatchObject({ status: 400, body: { errors: [expect.objectContaining({ path: 'clientSecretId' })] } });
    expect((await m.request('POST', '/api/v1/key-managers', { ...opaque('bad', { projectId: ids.p1 }), clientSecretId: 'not-an-id' })).status).toBe(400);
    expect((await ok('GET', '/api/v1/key-managers')).length).toBe(before);
  });

  it('needs key-manager:write at the project (403 names it)', async () => {
    const r = await m.request('POST', '/api/v1/key-managers', opaque('editor', { projectId: ids.p1, clientSecretId: ids.secret }), { token: editorToken });
    expect(r).toMatchObject({ status: 403, body: { code: 'permission_denied', permission: 'key-manager:write', scope: { type: 'project', id: ids.p1 } } });
  });

  it('creates one with the reference (audited), publishes the secret with it and republishes it when the secret rotates', async () => {
    const created = await m.request('POST', '/api/v1/key-managers', opaque('idp', { projectId: ids.p1, clientSecretId: ids.secret }));
    expect(created).toMatchObject({ status: 201, body: { clientSecretId: ids.secret, hasClientSecret: false } });
    ids.km = created.body.id;
    const audit = (await ok('GET', '/api/v1/audit?limit=50')).items.find((e: any) => e.entity.kind === 'key_manager' && e.entity.id === ids.km);
    expect(audit).toMatchObject({ action: 'key_manager.create' });
    expect(JSON.stringify(audit)).toContain(ids.secret);

    const snapshot = await published();
    const entry = snapshot!.keyManagers.find((k) => k.id === ids.km)!;
    expect(entry.clientSecret).toBeNull();
    expect(entry.clientSecretRef).toMatchObject({ id: ids.secret, kind: 'shared-secret' });
    expect(JSON.stringify(entry)).not.toContain(Buffer.from(first).toString('base64url'));
    expect(clientSecretIn(entry.clientSecretRef!)).toBe(first);

    await ok('POST', `/api/v1/projects/${ids.p1}/secrets/${ids.secret}/versions`, { material: Buffer.from(second).toString('base64url'), overlapSeconds: 60 });
    await eventually(
      () => f.published(),
      (sn) => {
        const ref = sn?.keyManagers.find((k) => k.id === ids.km)?.clientSecretRef;
        return ref !== undefined && clientSecretIn(ref) === second;
      },
      { what: 'the rotated secret to be republished with the key manager' },
    );
  });

  it('keeps the secret from deletion while used, refuses a foreign one on update, and a sealed secret replaces the reference', async () => {
    expect(await m.request('DELETE', `/api/v1/projects/${ids.p1}/secrets/${ids.secret}`)).toMatchObject({ status: 409, body: { code: 'secret_in_use' } });
    expect(await m.request('PATCH', `/api/v1/key-managers/${ids.km}`, { clientSecretId: ids.foreign })).toMatchObject({ status: 422, body: { code: 'secret_not_usable' } });
    expect((await ok('GET', `/api/v1/key-managers/${ids.km}`)).clientSecretId).toBe(ids.secret);
    const sealed = await ok('PATCH', `/api/v1/key-managers/${ids.km}`, { clientSecret: 'inline-secret' });
    expect(sealed).toMatchObject({ clientSecretId: null, hasClientSecret: true });
    const back = await ok('PATCH', `/api/v1/key-managers/${ids.km}`, { clientSecretId: ids.other });
    expect(back).toMatchObject({ clientSecretId: ids.other, hasClientSecret: false });
  });

  it('names the secret in APIops bundles: export by name, apply resolves it, an unknown name is a 400 naming the path', async () => {
    const bundle = await ok('GET', `/api/v1/projects/${ids.p1}/bundle?format=json`);
    const entry = bundle.keyManagers.find((k: any) => k.name === `idp-${s}`);
    expect(entry).toMatchObject({ clientSecretName: 'hmac-16' });
    expect(entry.clientSecretId).toBeUndefined();
    entry.clientSecretName = 'introspection';
    const applied = await m.request('POST', '/api/v1/apiops/apply', { bundle });
    expect(applied.status).toBe(200);
    expect((await ok('GET', `/api/v1/key-managers/${ids.km}`)).clientSecretId).toBe(ids.secret);
    entry.clientSecretName = 'nope';
    const plan = await m.request('POST', '/api/v1/apiops/plan', { bundle });
    expect(plan).toMatchObject({ status: 400, body: { code: 'invalid_bundle' } });
    expect(plan.body.errors).toContainEqual(expect.objectContaining({ path: expect.stringMatching(/^bundle\.keyManagers\.\d+\.clientSecretName$/) }));
  });

  it('prunes a key manager and the secret it names in one apply (the key manager first)', async () => {
    const bundle = await ok('GET', `/api/v1/projects/${ids.p1}/bundle?format=json`);
    bundle.keyManagers = bundle.keyManagers.filter((k: any) => k.name !== `idp-${s}`);
    bundle.secrets = bundle.secrets.filter((x: any) => x.name !== 'introspection');
    const applied = await m.request('POST', '/api/v1/apiops/apply', { bundle, prune: true });
    expect(applied.status).toBe(200);
    expect((await m.request('GET', `/api/v1/key-managers/${ids.km}`)).status).toBe(404);
    expect((await m.request('GET', `/api/v1/projects/${ids.p1}/secrets/${ids.secret}`)).status).toBe(404);
  });
});
