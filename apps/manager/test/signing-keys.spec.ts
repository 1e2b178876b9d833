import { EnvironmentConfigStore } from '@idm/config-bus';
import { SIGNING_ALGORITHMS, SecretBox } from '@idm/domain';
import { createPublicKey, generateKeyPairSync, createPrivateKey } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MASTER = randomBytes(32);

describe('environment signing keys', () => {
  let database: TestDatabase;
  let m: InProcessManager;
  const redis = new Redis(REDIS_URL);
  const envNames: string[] = [];
  const newEnv = async () => {
    const name = `keys-${randomBytes(4).toString('hex')}`;
    envNames.push(name);
    return (await m.request('POST', '/api/v1/environments', { name })).body;
  };

  beforeAll(async () => {
    database = await createTestDatabase('pglite');
    m = await startInProcessManager(database, { IDM_MASTER_KEYS: `m1:${MASTER.toString('base64')}`, SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '30' });
  });

  afterAll(async () => {
    await m?.close();
    for (const name of envNames) await new EnvironmentConfigStore(redis).remove(name);
    redis.disconnect();
    await database?.drop();
  });

  it.each(SIGNING_ALGORITHMS)('generates a %s key whose sealed private half signs what the published JWK verifies', async (algorithm) => {
    const env = await newEnv();
    const created = await m.request('POST', `/api/v1/environments/${env.id}/signing-keys`, { algorithm });
    expect(created.status).toBe(201);
    expect(created.body.publicJwk).toMatchObject({ kid: created.body.kid, alg: algorithm, use: 'sig' });
    expect(JSON.stringify(created.body)).not.toMatch(/PRIVATE|"d":/);
    const snapshot = (await new EnvironmentConfigStore(redis).load(env.name))!;
    expect(snapshot.signingKeys).toHaveLength(1);
    const sealed = snapshot.signingKeys[0].privateKey;
    expect(sealed).toMatch(/^enc:v1:m1:/);
    const privateKey = createPrivateKey(new SecretBox([{ id: 'm1', key: MASTER }]).open(sealed));
    const publicKey = createPublicKey({ key: created.body.publicJwk, format: 'jwk' });
    const data = Buffer.from('payload');
    const hash = algorithm === 'EdDSA' ? null : `sha${algorithm.slice(2)}`;
    const pss = algorithm.startsWith('PS') ? { padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 } : {};
    const { sign, verify } = await import('node:crypto');
    const signature = sign(hash, data, { key: privateKey, ...pss });
    expect(verify(hash, data, { key: publicKey, ...pss }, signature)).toBe(true);
  });

  it('imports a PEM that fits the algorithm and rejects one that does not', async () => {
    const env = await newEnv();
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    for (const [algorithm, pem, message] of [
      ['RS256', weak, '2048'],
      ['RS256', ec, 'RSA'],
      ['ES384', ec, 'P-384'],
      ['ES256', 'not a pem', 'PEM'],
    ]) {
      const res = await m.request('POST', `/api/v1/environments/${env.id}/signing-keys`, { algorithm, privateKeyPem: pem });
      expect(res.status).toBe(400);
      expect(res.body.errors[0]).toMatchObject({ path: 'privateKeyPem' });
      expect(res.body.errors[0].message).toContain(message);
    }
    const ok = await m.request('POST', `/api/v1/environments/${env.id}/signing-keys`, { algorithm: 'ES256', privateKeyPem: ec });
    expect(ok.status).toBe(201);
    const again = await m.request('POST', `/api/v1/environments/${env.id}/signing-keys`, { algorithm: 'ES256' });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('signing_key_exists');
  });

  it('rotates without a gap: the new key is published before it signs, the old one stays until its tokens expire', async () => {
    const env = await newEnv();
    const first = (await m.request('POST', `/api/v1/environments/${env.id}/signing-keys`, {})).body;
    expect(first.algorithm).toBe('RS256');
    const before = Date.now();
    const rotated = await m.request('POST', `/api/v1/environments/${env.id}/signing-keys/rotate`, { algorithm: 'ES256', retireAfterSeconds: 3600 });
    expect(rotated.status).toBe(201);
    const activatesAt = Date.parse(rotated.body.activatesAt);
    expect(activatesAt).toBeGreaterThanOrEqual(before + 29000);
    const keys = (await m.request('GET', `/api/v1/environments/${env.id}/signing-keys`)).body;
    const old = keys.find((k: any) => k.kid === first.kid);
    expect(Date.parse(old.publishedUntil)).toBe(activatesAt + 3600 * 1000);
    const snapshot = (await new EnvironmentConfigStore(redis).load(env.name))!;
    expect(snapshot.signingKeys.map((k) => k.kid)).toEqual([first.kid, rotated.body.kid]);
  });

  /** An environment serving one project whose credential and proxy both issue tokens. */
  const environmentIssuingTokens = async (credentialLifetime: object | 'never', proxyLifetime: object) => {
    const env = await newEnv();
    const project = (await m.request('POST', '/api/v1/projects', { name: `p-${env.name}` })).body;
    const proxy = await m.request('POST', `/api/v1/projects/${project.id}/proxies`, {
      name: 'orders',
      basePath: `/${env.name}`,
      upstreamUrl: 'http://127.0.0.1:9/',
      environments: [env.name],
      policies: [{ type: 'jwt-auth', config: { tokenService: { clientId: `c-${env.name}`, clientSecret: 'proxy-client-secret', accessTokenLifetime: proxyLifetime } } }],
    });
    expect(proxy.status).toBe(201);
    const credential = (await m.request('POST', `/api/v1/projects/${project.id}/credentials`, { username: 'app', password: 'app-password-1' })).body;
    const settings = await m.request('PUT', `/api/v1/projects/${project.id}/credentials/${credential.id}/token-settings`, { accessTokenLifetime: credentialLifetime });
    expect(settings.status).toBe(200);
    return env;
  };

  it("retires a replaced key by default only after the environment's longest access-token lifetime, and refuses an earlier retirement", async () => {
    const env = await environmentIssuingTokens({ amount: 2, unit: 'hours' }, { amount: 3, unit: 'days' });
    const first = (await m.request('POST', `/api/v1/environments/${env.id}/signing-keys`, {})).body;
    const early = await m.request('POST', `/api/v1/environments/${env.id}/signing-keys/rotate`, { retireAfterSeconds: 3600 });
    expect(early.status).toBe(400);
    expect(early.body).toMatchObject({ code: 'retirement_before_token_expiry', errors: [{ path: 'retireAfterSeconds', message: `must be at least ${3 * 86400}` }] });
    expect(JSON.stringify(early.body)).not.toMatch(/stack|at [A-Z]\w+\./);

    const rotated = await m.request('POST', `/api/v1/environments/${env.id}/signing-keys/rotate`, {});
    expect(rotated.status).toBe(201);
    const keys = (await m.request('GET', `/api/v1/environments/${env.id}/signing-keys`)).body;
    expect(Date.parse(keys.find((k: any) => k.kid === first.kid).publishedUntil)).toBe(Date.parse(rotated.body.activatesAt) + 3 * 86400 * 1000);
    // Published for verification only: still in the snapshot, no longer the newest key.
    expect((await new EnvironmentConfigStore(redis).load(env.name))!.signingKeys.map((k) => k.kid)).toEqual([first.kid, rotated.body.kid]);

    // `never` counts as the cap every issued token carries (ten years).
    const forever = await environmentIssuingTokens('never', { amount: 1, unit: 'hours' });
    await m.request('POST', `/api/v1/environments/${forever.id}/signing-keys`, {});
    const long = (await m.request('POST', `/api/v1/environments/${forever.id}/signing-keys/rotate`, {})).body;
    const old = (await m.request('GET', `/api/v1/environments/${forever.id}/signing-keys`)).body.find((k: any) => k.kid !== long.kid);
    expect(Date.parse(old.publishedUntil)).toBe(Date.parse(long.activatesAt) + 10 * 365 * 86400 * 1000);
  });

  it('retires a compromised key at once, audited as such: it leaves the snapshot and the new key signs without the delay', async () => {
    const env = await environmentIssuingTokens({ amount: 2, unit: 'hours' }, { amount: 1, unit: 'hours' });
    const first = (await m.request('POST', `/api/v1/environments/${env.id}/signing-keys`, {})).body;
    const contradictory = await m.request('POST', `/api/v1/environments/${env.id}/signing-keys/rotate`, { compromised: true, retireAfterSeconds: 7200 });
    expect(contradictory.status).toBe(400);
    expect(contradictory.body.errors[0].path).toBe('retireAfterSeconds');
    const before = Date.now();
    const rotated = await m.request('POST', `/api/v1/environments/${env.id}/signing-keys/rotate`, { compromised: true });
    expect(rotated.status).toBe(201);
    expect(Date.parse(rotated.body.activatesAt)).toBeLessThan(before + 5000);
    const old = (await m.request('GET', `/api/v1/environments/${env.id}/signing-keys`)).body.find((k: any) => k.kid === first.kid);
    expect(Date.parse(old.publishedUntil)).toBeLessThanOrEqual(Date.now());
    expect((await new EnvironmentConfigStore(redis).load(env.name))!.signingKeys.map((k) => k.kid)).toEqual([rotated.body.kid]);
    const audit = (await m.request('GET', `/api/v1/audit?entityKind=signing_key&entityId=${rotated.body.id}`)).body.items;
    expect(audit.map((e: any) => e.action)).toEqual(['signing_key.rotate_compromised']);
  });
});

describe('retired signing keys are dropped after their tokens expire', () => {
  let database: TestDatabase;
  let m: InProcessManager;
  const redis = new Redis(REDIS_URL);
  const envName = `sweep-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    database = await createTestDatabase('pglite');
    m = await startInProcessManager(database, { IDM_MASTER_KEYS: `m1:${MASTER.toString('base64')}`, SIGNING_KEY_ACTIVATION_DELAY_SECONDS: '1' });
  });

  afterAll(async () => {
    await m?.close();
    await new EnvironmentConfigStore(redis).remove(envName);
    redis.disconnect();
    await database?.drop();
  });

  it("keeps the replaced key for its tokens' two-second lifetime, then deletes it, audits that and republishes", async () => {
    const env = (await m.request('POST', '/api/v1/environments', { name: envName })).body;
    const project = (await m.request('POST', '/api/v1/projects', { name: `p-${envName}` })).body;
    await m.request('POST', `/api/v1/projects/${project.id}/proxies`, { name: 'orders', basePath: `/${envName}`, upstreamUrl: 'http://127.0.0.1:9/', environments: [envName] });
    const credential = (await m.request('POST', `/api/v1/projects/${project.id}/credentials`, { username: 'app', password: 'app-password-1' })).body;
    await m.request('PUT', `/api/v1/projects/${project.id}/credentials/${credential.id}/token-settings`, { accessTokenLifetime: { amount: 2, unit: 'seconds' } });
    const first = (await m.request('POST', `/api/v1/environments/${env.id}/signing-keys`, {})).body;
    const rotated = (await m.request('POST', `/api/v1/environments/${env.id}/signing-keys/rotate`, {})).body;
    const retiredAt = Date.parse(rotated.activatesAt) + 2000;
    const kids = async () => (await new EnvironmentConfigStore(redis).load(envName))!.signingKeys.map((k) => k.kid);
    expect(await kids()).toEqual([first.kid, rotated.kid]);

    // Nothing else changes in the meantime: only the sweep can take the key out of the snapshot.
    const deadline = retiredAt + 5000;
    while ((await kids()).includes(first.kid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(Date.now()).toBeGreaterThanOrEqual(retiredAt);
    expect(await kids()).toEqual([rotated.kid]);
    expect((await m.request('GET', `/api/v1/environments/${env.id}/signing-keys`)).body.map((k: any) => k.kid)).toEqual([rotated.kid]);
    const [dropped] = (await m.request('GET', `/api/v1/audit?entityKind=signing_key&action=signing_key.delete&entityId=${first.id}`)).body.items;
    expect(dropped).toMatchObject({ action: 'signing_key.delete', actor: { type: 'system', name: 'signing-key-sweeper' } });
    expect(JSON.stringify(dropped)).not.toContain('enc:v1');
  }, 20000);
});
