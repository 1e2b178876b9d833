import { eventually } from '@idm/test-kit';
import { randomBytes, randomUUID } from 'node:crypto';
import { startAdminFixture, type AdminFixture } from './support/admin-fixture';
import type { InProcessManager } from './support/in-process-manager';

/**
 * A project key manager verifying HS* tokens with a project secret (sharedSecretId; #14 §1/§5):
 * HS* without any shared secret is a 400 on `algorithms`; only a shared-secret of its own project,
 * never for a System key manager (422 secret_not_usable on `sharedSecretId`, nothing written); 403
 * without key-manager:write; published with every usable version (a rotation's overlap keeps the
 * previous one); the secret kept from deletion while used; `sharedSecretName` in APIops bundles.
 */
describe('key managers with an HS* key from the project secret manager', () => {
  const s = randomBytes(3).toString('hex');
  let f: AdminFixture;
  let m: InProcessManager;
  const ids: Record<string, string> = {};
  let editorToken = '';
  const first = randomBytes(32);
  const second = randomBytes(32);
  const ok = (method: string, url: string, body?: unknown) => f.ok(method, url, body);
  const hs = (name: string, extra: Record<string, unknown>) => ({ name: `${name}-${s}`, issuer: `https://${name}-${s}.example.com`, algorithms: ['HS256'], ...extra });
  /** The HMAC keys a Gateway would open from the published reference, by kid. */
  const keysIn = (ref: { versions: { kid: string; sealed: string | null; retiresAt: string | null }[] }) =>
    ref.versions.map((v) => ({ kid: v.kid, current: v.retiresAt === null, key: Buffer.from((JSON.parse(f.box.open(v.sealed!)) as { k: string }).k, 'base64url').toString('hex') }));

  beforeAll(async () => {
    f = await startAdminFixture('kmh', s, ['project-editor']);
    m = f.m;
    Object.assign(ids, { p1: f.p1, p2: f.p2 });
    editorToken = f.tokens['project-editor'];
    const shared = (p: string, name: string, bytes: Buffer) => ok('POST', `/api/v1/projects/${p}/secrets`, { name, kind: 'shared-secret', material: bytes.toString('base64url') });
    ids.secret = (await shared(ids.p1, 'hmac', first)).id;
    ids.foreign = (await shared(ids.p2, 'hmac', first)).id;
    ids.other = (await shared(ids.p1, 'hmac-2', randomBytes(32))).id;
    ids.short = (await shared(ids.p1, 'hmac-16', randomBytes(16))).id;
    ids.pub = (
      await ok('POST', `/api/v1/projects/${ids.p1}/secrets`, {
        name: 'pub',
        kind: 'public-key',
        material: { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' },
      })
    ).id;
  }, 300_000); // an in-process Manager took 70 s to boot under load

  afterAll(() => f?.close());

  it('refuses HS* without a shared secret (400 on algorithms), a foreign, unknown, System or wrong-kind secret (422), and both ways at once; writes nothing', async () => {
    const before = (await ok('GET', '/api/v1/key-managers')).length;
    const bare = await m.request('POST', '/api/v1/key-managers', hs('bare', { projectId: ids.p1 }));
    expect(bare).toMatchObject({
      status: 400,
      body: { code: 'validation_failed', errors: [expect.objectContaining({ path: 'algorithms', message: expect.stringMatching(/HS256 needs a sharedSecret/) })] },
    });
    const refused = async (body: Record<string, unknown>) =>
      expect(await m.request('POST', '/api/v1/key-managers', body)).toMatchObject({ status: 422, body: { code: 'secret_not_usable', errors: [{ path: 'sharedSecretId' }] } });
    await refused(hs('foreign', { projectId: ids.p1, sharedSecretId: ids.foreign }));
    await refused(hs('unknown', { projectId: ids.p1, sharedSecretId: randomUUID() }));
    await refused(hs('system', { projectId: null, sharedSecretId: ids.secret }));
    await refused(hs('kind', { projectId: ids.p1, sharedSecretId: ids.pub }));
    // RFC 7518 §3.2: a key at least as long as the hash: 16 bytes is too short for HS256, 32 for HS512.
    await refused(hs('short', { projectId: ids.p1, sharedSecretId: ids.short }));
    await refused(hs('short512', { projectId: ids.p1, sharedSecretId: ids.secret, algorithms: ['HS256', 'HS512'] }));
    const inline = await m.request('POST', '/api/v1/key-managers', hs('inline512', { projectId: ids.p1, sharedSecret: 'x'.repeat(40), algorithms: ['HS512'] }));
    expect(inline).toMatchObject({ status: 400, body: { errors: [expect.objectContaining({ path: 'sharedSecret', message: expect.stringMatching(/at least 64 bytes/) })] } });
    const both = await m.request('POST', '/api/v1/key-managers', hs('both', { projectId: ids.p1, sharedSecretId: ids.secret, sharedSecret: 'x'.repeat(32) }));
    expect(both).toMatchObject({ status: 400, body: { errors: [expect.objectContaining({ path: 'sharedSecretId' })] } });
    expect((await m.request('POST', '/api/v1/key-managers', hs('bad', { projectId: ids.p1, sharedSecretId: 'not-an-id' }))).status).toBe(400);
    expect((await ok('GET', '/api/v1/key-managers')).length).toBe(before);
  });

  it('needs key-manager:write at the project (403 names it)', async () => {
    const r = await m.request('POST', '/api/v1/key-managers', hs('editor', { projectId: ids.p1, sharedSecretId: ids.secret }), { token: editorToken });
    expect(r).toMatchObject({ status: 403, body: { code: 'permission_denied', permission: 'key-manager:write', scope: { type: 'project', id: ids.p1 } } });
  });

  it('creates one with the reference, publishes every usable version and both during a rotation overlap', async () => {
    const created = await m.request('POST', '/api/v1/key-managers', hs('idp', { projectId: ids.p1, sharedSecretId: ids.secret }));
    expect(created).toMatchObject({ status: 201, body: { sharedSecretId: ids.secret, hasSharedSecret: false, algorithms: ['HS256'] } });
    ids.km = created.body.id;
    const snapshot = await eventually(
      () => f.published(),
      (sn) => sn?.keyManagers.some((k) => k.id === ids.km) === true,
      { what: 'the key manager to be published' },
    );
    const entry = snapshot!.keyManagers.find((k) => k.id === ids.km)!;
    expect(entry.sharedSecret).toBeNull();
    expect(entry.sharedSecretRef).toMatchObject({ id: ids.secret, kind: 'shared-secret' });
    expect(JSON.stringify(entry)).not.toContain(first.toString('base64url'));
    expect(keysIn(entry.sharedSecretRef!)).toEqual([expect.objectContaining({ current: true, key: first.toString('hex') })]);

    // A version too short for HS256 would leave the key manager without a key once the overlap ends: refused, nothing written.
    const tooShort = await m.request('POST', `/api/v1/projects/${ids.p1}/secrets/${ids.secret}/versions`, { material: randomBytes(31).toString('base64url'), overlapSeconds: 600 });
    expect(tooShort).toMatchObject({
      status: 422,
      body: { code: 'secret_too_short', errors: [{ path: 'material', message: expect.stringMatching(new RegExp(`idp-${s}.*HS256.*32 bytes`)) }] },
    });
    expect((await ok('GET', `/api/v1/projects/${ids.p1}/secrets/${ids.secret}`)).versions).toHaveLength(1);
    // The same length is fine for a secret no key manager verifies HS* with.
    expect(
      (await m.request('POST', `/api/v1/projects/${ids.p1}/secrets/${ids.short}/versions`, { material: randomBytes(31).toString('base64url'), overlapSeconds: 0 })).status,
    ).toBe(201);
    await ok('POST', `/api/v1/projects/${ids.p1}/secrets/${ids.secret}/versions`, { material: second.toString('base64url'), overlapSeconds: 600 });
    const rotated = await eventually(
      () => f.published(),
      (sn) => (sn?.keyManagers.find((k) => k.id === ids.km)?.sharedSecretRef?.versions.length ?? 0) === 2,
      { what: 'the rotated secret republished with both versions' },
    );
    const keys = keysIn(rotated!.keyManagers.find((k) => k.id === ids.km)!.sharedSecretRef!);
    expect(keys.map(({ current, key }) => ({ current, key }))).toEqual([
      { current: false, key: first.toString('hex') },
      { current: true, key: second.toString('hex') },
    ]);
  });

  it('keeps the secret from deletion while used (409), refuses a foreign one on update, and a sealed secret replaces the reference', async () => {
    expect(await m.request('DELETE', `/api/v1/projects/${ids.p1}/secrets/${ids.secret}`)).toMatchObject({ status: 409, body: { code: 'secret_in_use' } });
    expect(await m.request('PATCH', `/api/v1/key-managers/${ids.km}`, { sharedSecretId: ids.foreign })).toMatchObject({ status: 422, body: { code: 'secret_not_usable' } });
    expect(await m.request('PATCH', `/api/v1/key-managers/${ids.km}`, { sharedSecretId: null })).toMatchObject({
      status: 400,
      body: { errors: [expect.objectContaining({ path: 'algorithms' })] },
    });
    expect((await ok('GET', `/api/v1/key-managers/${ids.km}`)).sharedSecretId).toBe(ids.secret);
    const sealed = await ok('PATCH', `/api/v1/key-managers/${ids.km}`, { sharedSecret: randomBytes(32).toString('hex') });
    expect(sealed).toMatchObject({ sharedSecretId: null, hasSharedSecret: true });
    const back = await ok('PATCH', `/api/v1/key-managers/${ids.km}`, { sharedSecretId: ids.other });
    expect(back).toMatchObject({ sharedSecretId: ids.other, hasSharedSecret: false });
    // No longer used: the first secret may go now.
    expect((await m.request('DELETE', `/api/v1/projects/${ids.p1}/secrets/${ids.secret}`)).status).toBe(204);
  });

  it('names the secret in APIops bundles: export by name, apply resolves it, an unknown name is a 400 naming the path', async () => {
    const bundle = await ok('GET', `/api/v1/projects/${ids.p1}/bundle?format=json`);
    const entry = bundle.keyManagers.find((k: any) => k.name === `idp-${s}`);
    expect(entry).toMatchObject({ sharedSecretName: 'hmac-2' });
    expect(entry.sharedSecretId).toBeUndefined();
    ids.third = (await ok('POST', `/api/v1/projects/${ids.p1}/secrets`, { name: 'hmac-3', kind: 'shared-secret', material: randomBytes(32).toString('base64url') })).id;
    entry.sharedSecretName = 'hmac-3';
    bundle.secrets = (await ok('GET', `/api/v1/projects/${ids.p1}/bundle?format=json`)).secrets;
    expect((await m.request('POST', '/api/v1/apiops/apply', { bundle })).status).toBe(200);
    expect((await ok('GET', `/api/v1/key-managers/${ids.km}`)).sharedSecretId).toBe(ids.third);
    entry.sharedSecretName = 'nope';
    const plan = await m.request('POST', '/api/v1/apiops/plan', { bundle });
    expect(plan).toMatchObject({ status: 400, body: { code: 'invalid_bundle' } });
    expect(plan.body.errors).toContainEqual(expect.objectContaining({ path: expect.stringMatching(/^bundle\.keyManagers\.\d+\.sharedSecretName$/) }));
  });
});
