import { UpstreamPolicy, upstreamPolicySettings, type OwnEndpoint, type ResolveAll } from './upstream-policy';

/** A DNS of our own: names resolve to what the test says (no network involved). */
const dns =
  (table: Record<string, string[]>): ResolveAll =>
  async (name) => {
    if (!table[name]) throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return table[name];
  };
const own: OwnEndpoint[] = [
  { what: "the Manager's listener", host: '0.0.0.0', port: 8080 },
  { what: 'Redis', host: 'redis.internal', port: 6379 },
  { what: 'PostgreSQL', host: '10.0.0.5', port: 5432 },
];
const policy = (env: Record<string, string> = {}, table: Record<string, string[]> = {}) => {
  const { settings, problems } = upstreamPolicySettings(env, own);
  expect(problems).toEqual([]);
  return new UpstreamPolicy(settings, dns({ 'redis.internal': ['10.0.0.9'], ...table }), ['192.168.1.20', 'fe80::1']);
};

describe('UpstreamPolicy', () => {
  it.each([
    ['http://127.0.0.1:3000', 'internal_address'],
    ['http://127.8.9.10/', 'internal_address'],
    ['http://0.0.0.0:3000', 'internal_address'],
    ['http://[::1]:3000', 'internal_address'],
    ['http://[::ffff:127.0.0.1]:3000', 'internal_address'],
    ['http://2130706433/', 'internal_address'], // 127.0.0.1 as one number
    ['http://169.254.169.254/latest/meta-data', 'internal_address'],
    ['http://[fe80::1]/', 'internal_address'],
    ['http://100.100.100.200/', 'internal_address'],
    ['http://[fd00:ec2::254]/', 'internal_address'],
    ['https://api.example.com/v1', null],
    ['http://10.1.2.3:8080', null], // private networks are where upstreams live
  ])('%s -> %s by default', async (url, reason) => {
    const p = policy({}, { 'api.example.com': ['93.184.215.14'] });
    expect((await p.checkUrl(url))?.reason ?? null).toBe(reason);
  });

  it('checks the addresses a name resolves to, not the name (DNS pointing inside)', async () => {
    const p = policy({}, { 'rebind.example': ['93.184.215.14', '127.0.0.1'], 'meta.example': ['169.254.169.254'] });
    expect(await p.checkUrl('http://rebind.example/')).toEqual({ reason: 'internal_address', detail: expect.stringContaining('rebind.example (127.0.0.1):80') });
    expect((await p.check('meta.example', '169.254.169.254', 80))?.reason).toBe('internal_address');
  });

  it('UPSTREAM_ALLOW exempts addresses and names from the internal ranges; UPSTREAM_ALLOW_INTERNAL all of them', async () => {
    const p = policy({ UPSTREAM_ALLOW: '127.0.0.1, localhost' });
    expect(await p.check('127.0.0.1', '127.0.0.1', 3000)).toBeNull();
    expect(await p.check('localhost', '::1', 3000)).toBeNull();
    expect((await p.check('127.0.0.2', '127.0.0.2', 3000))?.reason).toBe('internal_address');
    expect(await policy({ UPSTREAM_ALLOW_INTERNAL: 'true' }).check('x', '169.254.169.254', 80)).toBeNull();
  });

  it("refuses the installation's own endpoints in every mode, by address, by name and through a local address", async () => {
    const p = policy({ UPSTREAM_ALLOW_INTERNAL: 'true', UPSTREAM_ALLOW: '0.0.0.0/0' });
    // The Manager listens on 0.0.0.0:8080: every address of this machine at that port is it.
    for (const address of ['127.0.0.1', '::1', '192.168.1.20', '::ffff:127.0.0.1']) {
      expect(await p.check('h', address, 8080)).toEqual({ reason: 'installation_endpoint', detail: expect.stringContaining("the Manager's listener") });
    }
    expect(await p.check('h', '127.0.0.1', 8081)).toBeNull(); // another port of the same host is not the Manager
    expect(await p.check('192.168.1.99', '192.168.1.99', 8080)).toBeNull(); // another host's 8080 neither
    expect((await p.check('redis.internal', null, 6379))?.reason).toBe('installation_endpoint');
    expect((await p.check('cache.example', '10.0.0.9', 6379))?.reason).toBe('installation_endpoint'); // Redis' address under another name
    expect((await p.check('10.0.0.5', '10.0.0.5', 5432))?.detail).toContain('PostgreSQL');
    expect(await p.checkUrl('http://[::ffff:10.0.0.5]:5432/')).toMatchObject({ reason: 'installation_endpoint' });
  });

  it('UPSTREAM_DENY refuses ranges, names (and their addresses) and host:port endpoints, and wins over UPSTREAM_ALLOW', async () => {
    const p = policy(
      { UPSTREAM_DENY: '10.20.0.0/16, manager.internal:8443, secrets.internal', UPSTREAM_ALLOW: '10.20.0.0/16' },
      { 'manager.internal': ['10.0.0.7'], 'secrets.internal': ['10.0.0.8'] },
    );
    expect((await p.check('x', '10.20.3.4', 80))?.reason).toBe('denied_by_policy');
    expect((await p.check('10.0.0.7', '10.0.0.7', 8443))?.reason).toBe('denied_by_policy');
    expect(await p.check('10.0.0.7', '10.0.0.7', 9000)).toBeNull();
    expect((await p.check('vault.example', '10.0.0.8', 443))?.reason).toBe('denied_by_policy');
    expect((await p.checkUrl('https://SECRETS.internal./x'))?.reason).toBe('denied_by_policy');
  });

  it('names every bad entry of the variables', () => {
    const { problems } = upstreamPolicySettings({ UPSTREAM_ALLOW: '10.0.0.0/33, host:80', UPSTREAM_DENY: 'ok.example:99999, bad host', UPSTREAM_ALLOW_INTERNAL: 'yes' }, []);
    expect(problems).toEqual([
      'UPSTREAM_ALLOW_INTERNAL: must be true or false',
      "UPSTREAM_ALLOW: '10.0.0.0/33' is not an address, CIDR or host name",
      "UPSTREAM_ALLOW: 'host:80' names a port; only UPSTREAM_DENY takes host:port entries",
      "UPSTREAM_DENY: 'ok.example:99999' has no valid port",
      "UPSTREAM_DENY: 'bad host' is not an address, CIDR or host name",
    ]);
  });
});
