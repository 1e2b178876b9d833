import { EnvironmentConfigStore } from '@idm/config-bus';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { Client } from 'pg';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { REPO_ROOT } from '@idm/test-kit';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const key = () => randomBytes(32).toString('base64');
const K1 = `k1:${key()}`;
const K2 = `k2:${key()}`;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Known secrets go in through every route that takes one; afterwards none of them may appear in
 * any database row, log line, API response (after the one that creates an API key) or the audit
 * trail — and a master-key rotation leaves nothing sealed under the old key.
 */
const projectKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;

describe('secrets at rest', () => {
  let database: TestDatabase;
  let manager: InProcessManager;
  const logs: string[] = [];
  const responses: string[] = [];
  const env = `sec-${randomBytes(3).toString('hex')}`;
  const secrets = {
    userPassword: `user-pw-${randomBytes(6).toString('hex')}`,
    newUserPassword: `new-pw-${randomBytes(6).toString('hex')}`,
    credentialPassword: `cred-pw-${randomBytes(6).toString('hex')}`,
    metadataSecret: `meta-secret-${randomBytes(6).toString('hex')}`,
    rotatedMetadataSecret: `meta-rotated-${randomBytes(6).toString('hex')}`,
    // The body of an uploaded private key (PEM line breaks removed, so any copy of it is found).
    clientSecret: `client-secret-${randomBytes(6).toString('hex')}`,
    signingKeyPem: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    // Project secrets (JOSE keys): a private key's PEM and its JWK `d`, a shared secret.
    projectKeyPem: projectKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    projectKeyD: (projectKey.export({ format: 'jwk' }) as { d: string }).d,
    sharedSecret: randomBytes(32).toString('base64url'),
  };
  const pemBody = (pem: string) =>
    pem
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .join('');
  const apiKeys: string[] = [];

  const call = async (method: string, url: string, body?: unknown, token?: string) => {
    const res = await manager.request(method, url, body, token ? { token } : {});
    responses.push(JSON.stringify(res.body ?? ''));
    return res;
  };

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    manager = await startInProcessManager(database, { IDM_MASTER_KEYS: K1, LOG_LEVEL: 'debug' }, { logDestination: { write: (line: string) => void logs.push(line) } });
  });

  afterAll(async () => {
    await manager?.close();
    const redis = new Redis(REDIS_URL);
    await new EnvironmentConfigStore(redis).remove(env);
    redis.disconnect();
    await database?.drop();
  });

  it('keeps every secret out of rows, logs, responses, audit and snapshots', async () => {
    await call('POST', '/api/v1/environments', { name: env });
    const project = (await call('POST', '/api/v1/projects', { name: env })).body;
    await call('POST', `/api/v1/projects/${project.id}/proxies`, { name: 'p', basePath: `/${env}`, upstreamUrl: 'http://127.0.0.1:9', environments: [env] });
    const tokenService = { clientId: 'orders-client', clientSecret: secrets.clientSecret, grants: ['client_credentials'] };
    expect(
      (
        await call('POST', `/api/v1/projects/${project.id}/proxies`, {
          name: 'jwt',
          basePath: `/${env}-jwt`,
          upstreamUrl: 'http://127.0.0.1:9',
          environments: [env],
          policies: [{ type: 'jwt-auth', config: { tokenService } }],
        })
      ).status,
    ).toBe(201);
    const joseKey = await call('POST', `/api/v1/projects/${project.id}/secrets`, { name: 'jose-key', kind: 'private-key', material: secrets.projectKeyPem });
    const hmac = await call('POST', `/api/v1/projects/${project.id}/secrets`, { name: 'hmac', kind: 'shared-secret', material: secrets.sharedSecret });
    expect([joseKey.status, hmac.status]).toEqual([201, 201]);
    const jose = await call('POST', `/api/v1/projects/${project.id}/proxies`, {
      name: 'jose',
      basePath: `/${env}-jose`,
      upstreamUrl: 'http://127.0.0.1:9',
      environments: [env],
      policies: [
        { type: 'jose-validation', config: { verify: { key: { source: 'secret', secretId: hmac.body.id }, algorithms: ['HS256'] } } },
        { type: 'jose-implementation', config: { sign: { alg: 'ES256', key: { source: 'secret', secretId: joseKey.body.id } } } },
      ],
    });
    expect(jose.status).toBe(201);
    await call('GET', `/api/v1/projects/${project.id}/secrets`);
    const environment = (await call('GET', '/api/v1/environments')).body.find((e: any) => e.name === env);
    expect((await call('POST', `/api/v1/environments/${environment.id}/signing-keys`, { algorithm: 'ES256', privateKeyPem: secrets.signingKeyPem })).status).toBe(201);
    await call('GET', `/api/v1/environments/${environment.id}/signing-keys`);
    const user = (await call('POST', '/api/v1/users', { username: `u${env.replace(/-/g, '')}`, password: secrets.userPassword })).body;
    const login = await call('POST', '/api/v1/auth/login', { username: user.username, password: secrets.userPassword }, undefined);
    expect(login.status).toBe(200);
    await call('PUT', '/api/v1/me/password', { currentPassword: secrets.userPassword, newPassword: secrets.newUserPassword }, login.body.token);
    await call('PATCH', `/api/v1/users/${user.id}`, { password: secrets.userPassword });

    const created = await manager.request('POST', `/api/v1/projects/${project.id}/credentials`, {
      username: 'svc',
      password: secrets.credentialPassword,
      metadata: [
        { key: 'upstream-token', value: secrets.metadataSecret, secret: true, includeInJwt: true },
        { key: 'tier', value: 'gold' },
      ],
    });
    expect(created.status).toBe(201);
    apiKeys.push(created.body.apiKey.key); // the one response allowed to carry a key
    const credential = created.body;
    expect(credential.metadata).toEqual([
      { key: 'upstream-token', secret: true, includeInJwt: true, includeInTokenResponse: false },
      { key: 'tier', value: 'gold', secret: false, includeInJwt: false, includeInTokenResponse: false },
    ]);
    const issued = await manager.request('POST', `/api/v1/projects/${project.id}/credentials/${credential.id}/api-keys`, {});
    apiKeys.push(issued.body.key);
    // A secret entry sent without a value keeps its value; with one, it is replaced.
    await call('PATCH', `/api/v1/projects/${project.id}/credentials/${credential.id}`, { metadata: [{ key: 'upstream-token', secret: true }] });
    await call('PATCH', `/api/v1/projects/${project.id}/credentials/${credential.id}`, {
      password: secrets.credentialPassword,
      metadata: [{ key: 'upstream-token', value: secrets.rotatedMetadataSecret, secret: true }],
    });
    await call('GET', `/api/v1/projects/${project.id}/credentials`);
    await call('GET', `/api/v1/projects/${project.id}/credentials/${credential.id}`);
    await call('GET', '/api/v1/audit?limit=500');
    await call('GET', '/api/v1/users');

    const haystacks = {
      database: await dumpDatabase(database.url!),
      logs: logs.join('\n'),
      responses: responses.join('\n'),
      snapshot: await readSnapshot(env),
    };
    expect(haystacks.logs.length).toBeGreaterThan(1000); // the logs really were captured
    for (const [where, text] of Object.entries(haystacks)) {
      // PEM bodies are checked past the 48-char header every P-256 PKCS#8 key shares.
      const flat = text.replace(/\\n|\n/g, '');
      for (const [name, secret] of Object.entries({
        ...secrets,
        signingKeyPem: pemBody(secrets.signingKeyPem).slice(48),
        projectKeyPem: pemBody(secrets.projectKeyPem).slice(48),
        ...Object.fromEntries(apiKeys.map((k, i) => [`apiKey${i}`, k])),
      })) {
        if (flat.includes(secret.slice(0, 64))) throw new Error(`${name} found in ${where}`);
      }
    }
    expect(haystacks.database).toContain('enc:v1:k1:');
    expect(haystacks.snapshot).toContain('enc:v1:k1:');
  });

  it('re-encrypts everything under the new master key with the rotate-master-key command', async () => {
    await manager.close();
    const run = promisify(execFile);
    const { stdout } = await run(process.execPath, [join(REPO_ROOT, 'apps/manager/dist/cli/rotate-master-key.js')], {
      env: { ...process.env, DATABASE_URL: database.url, IDM_ADMIN_PASSWORD: 'correct-horse-battery', IDM_MASTER_KEYS: `${K2},${K1}`, REDIS_URL, LOG_LEVEL: 'warn' },
    });
    expect(stdout).toContain("re-encrypted 6 secret(s) under master key 'k2'"); // metadata secret, digest HA1, signing key, proxy client secret, two project secrets
    const dump = await dumpDatabase(database.url!);
    expect(dump).toContain('enc:v1:k2:');
    expect(dump).not.toContain('enc:v1:k1:');
    expect(dump).toContain('master_key.rotate');
    // Only the new key is needed from now on.
    manager = await startInProcessManager(database, { IDM_MASTER_KEYS: K2 });
    const project = (await manager.request('GET', '/api/v1/projects')).body.find((p: any) => p.name === env);
    const [credential] = (await manager.request('GET', `/api/v1/projects/${project.id}/credentials`)).body;
    expect(credential.metadata[0]).toMatchObject({ key: 'upstream-token', secret: true });
  }, 60000);

  it('refuses to boot with a malformed master key, naming the variable', async () => {
    await expect(startInProcessManager(database, { IDM_MASTER_KEYS: 'k1:short' })).rejects.toThrow(/IDM_MASTER_KEYS/);
  });
});

async function dumpDatabase(url: string): Promise<string> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const tables = (await client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).rows.map((r) => r.tablename as string);
    const parts: string[] = [];
    for (const table of tables) parts.push(JSON.stringify((await client.query(`SELECT * FROM "${table}"`)).rows));
    return parts.join('\n');
  } finally {
    await client.end();
  }
}

async function readSnapshot(env: string): Promise<string> {
  const redis = new Redis(REDIS_URL);
  try {
    return JSON.stringify(await new EnvironmentConfigStore(redis).load(env));
  } finally {
    redis.disconnect();
  }
}
