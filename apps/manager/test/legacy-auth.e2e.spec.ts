import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import type { AdminClient } from './support/admin-client';
import { startCluster, type Cluster } from './support/cluster';
import { curl, eventually, type AppProcess, type RedisProcess } from '@idm/test-kit';

const run = promisify(execFile);
const h = (alg: string, v: string) =>
  createHash(alg === 'MD5' ? 'md5' : 'sha256')
    .update(v)
    .digest('hex');

/**
 * Digest authentication end to end: the password is set over the Manager's credential API,
 * only sealed HA1 values travel in the snapshot, two Gateway processes check real
 * `curl --digest` (SHA-256 and MD5) and share nonce counts through Redis.
 */
describe('digest-auth on two Gateways', () => {
  const ENV = 'legacy';
  const MASTER_KEYS = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
  let cluster: Cluster;
  let redis: RedisProcess;
  let gateways: AppProcess[];
  let admin: AdminClient;
  let projectId: string;

  const challengeFrom = async (g: AppProcess, path: string) => {
    const res = await fetch(g.baseUrl + path);
    expect(res.status).toBe(401);
    return res.headers.get('www-authenticate')!;
  };
  const digestHeader = (challenge: string, o: { path: string; nc: string; password?: string }) => {
    const nonce = /nonce="([^"]+)"/.exec(challenge)![1];
    const opaque = /opaque="([^"]+)"/.exec(challenge)![1];
    const ha1 = h('SHA-256', `partner:identity-manager:${o.password ?? 'partner-password'}`);
    const response = h('SHA-256', `${ha1}:${nonce}:${o.nc}:abc:auth:${h('SHA-256', `GET:${o.path}`)}`);
    return `Digest username="partner", realm="identity-manager", nonce="${nonce}", uri="${o.path}", algorithm=SHA-256, response="${response}", opaque="${opaque}", qop=auth, nc=${o.nc}, cnonce="abc"`;
  };

  beforeAll(async () => {
    const keys = { IDM_MASTER_KEYS: MASTER_KEYS };
    cluster = await startCluster({ environment: ENV, managerEnv: keys, gateways: [keys, keys] });
    ({ redis, gateways, admin } = cluster);
    const { echoUrl } = cluster;
    projectId = (await admin.projects.create({ name: 'legacy' })).id;
    await admin.proxies.create(projectId, { name: 'dig', basePath: '/dig', upstreamUrl: echoUrl, policies: [{ type: 'digest-auth', config: {} }], environments: [ENV] });
    await admin.proxies.create(projectId, {
      name: 'dig-md5',
      basePath: '/dig-md5',
      upstreamUrl: echoUrl,
      policies: [{ type: 'digest-auth', config: { algorithms: ['MD5'] } }],
      environments: [ENV],
    });
    await admin.proxies.create(projectId, {
      name: 'b64',
      basePath: '/b64',
      upstreamUrl: echoUrl,
      policies: [{ type: 'base64-auth', config: { queryParam: 'creds' } }],
      environments: [ENV],
    });
    await admin.credentials.create(projectId, { username: 'partner', password: 'partner-password', access: { acl: { deniedMethods: ['POST'] } } });
    await Promise.all(
      gateways.map((g) =>
        eventually(
          () => fetch(g.baseUrl + '/dig-md5/x'),
          (r) => r.status === 401,
          { what: `${g.name}: digest proxies served` },
        ),
      ),
    );
  }, 90000);

  afterAll(() => cluster?.stop(), 30000);

  it('challenges with realm, nonce, opaque, algorithm and qop="auth" and a JSON error body', async () => {
    const res = await fetch(gateways[0].baseUrl + '/dig/x');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Digest realm="identity-manager", qop="auth", algorithm=SHA-256, nonce="[^"]+", opaque="[^"]+", Digest realm="identity-manager", qop="auth", algorithm=MD5/,
    );
    expect(await res.json()).toEqual({ code: 'missing_credentials', message: expect.any(String), requestId: expect.any(String) });
  });

  it.each([
    ['SHA-256', '/dig'],
    ['MD5', '/dig-md5'],
  ])('authenticates curl --digest with %s on both gateways, then applies the credential rules', async (_, base) => {
    for (const g of gateways) {
      const ok = await curl(['--digest', '-u', 'partner:partner-password', `${g.baseUrl}${base}/hello?x=1`]);
      expect(ok.status).toBe(200);
      expect(ok.body.headers['x-authenticated-userid']).toBe('partner');
      expect(ok.body.headers.authorization).toBeUndefined();
      expect(await curl(['--digest', '-u', 'partner:wrong-password', `${g.baseUrl}${base}/hello`])).toMatchObject({ status: 401, body: { code: 'invalid_credentials' } });
      expect(await curl(['--digest', '-u', 'partner:partner-password', '-X', 'POST', `${g.baseUrl}${base}/hello`])).toMatchObject({
        status: 403,
        body: { code: 'acl_method_denied' },
      });
    }
  });

  it('accepts a nonce issued by one gateway on the other and rejects its replay on either', async () => {
    const challenge = await challengeFrom(gateways[0], '/dig/r');
    const first = await fetch(gateways[1].baseUrl + '/dig/r', { headers: { authorization: digestHeader(challenge, { path: '/dig/r', nc: '00000002' }) } });
    expect(first.status).toBe(200);
    for (const [g, nc] of [
      [gateways[0], '00000002'],
      [gateways[1], '00000001'],
    ] as const) {
      const replay = await fetch(g.baseUrl + '/dig/r', { headers: { authorization: digestHeader(challenge, { path: '/dig/r', nc }) } });
      expect(replay.status).toBe(401);
      expect((await replay.json()).code).toBe('nonce_replayed');
    }
    expect((await fetch(gateways[0].baseUrl + '/dig/r', { headers: { authorization: digestHeader(challenge, { path: '/dig/r', nc: '00000003' }) } })).status).toBe(200);
  });

  it.each(
    [
      ['a duplicated field', 'Digest username="partner", username="partner", realm="identity-manager", nonce="n", uri="/dig/x", response="r"', 400, 'malformed_credentials'],
      ['a missing field', 'Digest username="partner", realm="identity-manager", uri="/dig/x", response="r"', 400, 'malformed_credentials'],
      [
        'an unknown algorithm',
        'Digest username="partner", realm="identity-manager", nonce="n", uri="/dig/x", response="r", algorithm=SHA-512, qop=auth, nc=00000001, cnonce="c"',
        401,
        'unsupported_algorithm',
      ],
      ['a huge header', `Digest username="${'a'.repeat(6000)}"`, 400, 'malformed_credentials'],
      [
        'a forged nonce',
        'Digest username="partner", realm="identity-manager", nonce="forged", uri="/dig/x", response="r", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c"',
        401,
        'invalid_nonce',
      ],
    ].map(([label, authorization, status, code]) => [label, status, code, authorization] as const),
  )('answers %s with %s %s (never a 500)', async (_, status, code, authorization) => {
    const r = await curl(['-H', `Authorization: ${authorization}`, `${gateways[1].baseUrl}/dig/x`]);
    expect(r).toMatchObject({ status, body: { code, requestId: expect.any(String) } });
  });

  it('authenticates base64-auth from curl --basic and from a query parameter, and rejects bad base64', async () => {
    for (const g of gateways) {
      const ok = await eventually(
        () => curl(['--basic', '-u', 'partner:partner-password', `${g.baseUrl}/b64/hello`]),
        (r) => r.status === 200,
        { what: `${g.name}: base64-auth` },
      );
      expect(ok.body.headers['x-authenticated-userid']).toBe('partner');
      const q = await curl([`${g.baseUrl}/b64/hello?creds=${encodeURIComponent(Buffer.from('partner:partner-password').toString('base64'))}&a=1`]);
      expect(q.status).toBe(200);
      expect(q.body.url ?? q.body.path ?? JSON.stringify(q.body)).not.toContain('creds=');
      expect(await curl(['--basic', '-u', 'partner:nope', `${g.baseUrl}/b64/hello`])).toMatchObject({ status: 401, body: { code: 'invalid_credentials' } });
      expect(await curl(['-H', 'Authorization: Basic !!!', `${g.baseUrl}/b64/hello`])).toMatchObject({ status: 401, body: { code: 'malformed_credentials' } });
    }
  });

  it('keeps the HA1 sealed in the snapshot and out of API responses', async () => {
    const { stdout } = await run('redis-cli', ['-p', String(new URL(redis.url).port), '--scan', '--pattern', '*']);
    const keys = stdout.split('\n').filter(Boolean);
    const cli = (...args: string[]) =>
      run('redis-cli', ['-p', String(new URL(redis.url).port), '--raw', ...args]).then(
        (r) => r.stdout.trim(),
        () => '',
      );
    // Whatever each key is (the configuration is hashes and a stream), all of what it holds.
    const READ: Record<string, string[]> = {
      string: ['GET'],
      hash: ['HGETALL'],
      stream: ['XRANGE', '-', '+'],
      list: ['LRANGE', '0', '-1'],
      set: ['SMEMBERS'],
      zset: ['ZRANGE', '0', '-1'],
    };
    const values = await Promise.all(
      keys.map(async (k) => {
        const read = READ[await cli('TYPE', k)];
        return read ? cli(read[0], k, ...read.slice(1)) : '';
      }),
    );
    const all = values.join('\n');
    expect(all).toContain('"digestHa1":"enc:v1:k1:');
    expect(all).not.toContain(h('SHA-256', 'partner:identity-manager:partner-password'));
    const [credential] = await admin.credentials.list(projectId);
    expect(JSON.stringify(credential)).not.toContain('enc:v1');
  });
});
