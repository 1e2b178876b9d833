import { SnapshotStore } from '@idm/config-bus';
import { SIGNING_ALGORITHMS, SecretBox } from '@idm/domain';
import { createPublicKey, createSign, generateKeyPairSync, createVerify, createPrivateKey } from 'node:crypto';
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
    for (const name of envNames) await new SnapshotStore(redis).remove(name);
    redis.disconnect();
    await database?.drop();
  });

  it.each(SIGNING_ALGORITHMS)('generates a %s key whose sealed private half signs what the published JWK verifies', async (algorithm) => {
    const env = await newEnv();
    const created = await m.request('POST', `/api/v1/environments/${env.id}/signing-keys`, { algorithm });
    expect(created.status).toBe(201);
    expect(created.body.publicJwk).toMatchObject({ kid: created.body.kid, alg: algorithm, use: 'sig' });
    expect(JSON.stringify(created.body)).not.toMatch(/PRIVATE|"d":/);
    const snapshot = (await new SnapshotStore(redis).read(env.name))!;
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
    const snapshot = (await new SnapshotStore(redis).read(env.name))!;
    expect(snapshot.signingKeys.map((k) => k.kid)).toEqual([first.kid, rotated.body.kid]);
  });
});
