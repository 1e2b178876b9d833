import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequestContext } from '@idm/policies';
import { TokenIssuers } from './issuer-url';

/** A real node:http server answers what the issuers make of each request a real client sends. */
describe('TokenIssuers', () => {
  let server: Server;
  let port: number;
  let issuers: TokenIssuers;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const ctx = createRequestContext({ method: 'GET', path: '/', headers: req.headers, query: '', clientIp: '', socket: req.socket });
      const iss = String(req.headers['x-test-iss'] ?? '');
      res.end(
        JSON.stringify({
          issuer: issuers.issuerOf(req.headers, req.socket, '/credential'),
          auth: issuers.issuerOf(req.headers, req.socket, '/auth'),
          accepts: iss ? issuers.isRequestIssuer(iss, ctx) : null,
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  const ask = (headers: Record<string, string>) =>
    new Promise<{ issuer: string; auth: string; accepts: boolean | null }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', headers, setHost: headers.host === undefined }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(JSON.parse(body)));
      });
      req.on('error', reject);
      req.end();
    });
  const forged = { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };

  it('uses the public URL for every request, whatever the client sends', async () => {
    issuers = new TokenIssuers('https://api.example.com', () => true);
    expect(issuers.fixed).toEqual(['https://api.example.com/credential', 'https://api.example.com/auth']);
    expect(await ask({ ...forged, host: 'other.example' })).toMatchObject({ issuer: 'https://api.example.com/credential', auth: 'https://api.example.com/auth' });
  });

  it('ignores X-Forwarded-Host/Proto from a peer it does not trust: the Host of the request only', async () => {
    issuers = new TokenIssuers(null, () => false);
    expect(issuers.fixed).toBeNull();
    expect(await ask({ ...forged, host: `gw.internal:${port}` })).toMatchObject({ issuer: `http://gw.internal:${port}/credential` });
  });

  it('believes X-Forwarded-Host/Proto from a trusted hop, and never publishes a malformed one', async () => {
    issuers = new TokenIssuers(null, (peer) => peer === '127.0.0.1' || peer === '::ffff:127.0.0.1');
    expect(await ask({ ...forged, host: 'gw.internal' })).toMatchObject({ issuer: 'https://evil.example/credential' });
    expect(await ask({ 'x-forwarded-host': 'a/b"c', 'x-forwarded-proto': 'javascript', host: 'gw.internal' })).toMatchObject({ issuer: 'http://gw.internal/credential' });
    issuers = new TokenIssuers(null, () => false);
    expect(await ask({ host: 'bad host/<x>' })).toMatchObject({ issuer: 'http://localhost/credential' });
  });

  it("accepts exactly the issuer of the request's host for jwt-auth", async () => {
    issuers = new TokenIssuers(null, () => false);
    const host = { host: 'gw.internal:8081' };
    expect(await ask({ ...host, 'x-test-iss': 'http://gw.internal:8081/credential' })).toMatchObject({ accepts: true });
    expect(await ask({ ...host, 'x-test-iss': 'http://gw.internal:8081/auth' })).toMatchObject({ accepts: true });
    for (const iss of [
      'https://gw.internal:8081/credential',
      'http://gw.internal:8082/credential',
      'http://gw.internal/credential',
      'http://gw.internal:8081/credentials',
      'http://gw.internal:8081/auth/x',
      'http://gw.internal:8081',
      'http://evil.example/credential',
    ]) {
      expect([iss, (await ask({ ...host, 'x-test-iss': iss })).accepts]).toEqual([iss, false]);
    }
    // A forged X-Forwarded-Host does not make a token minted for it acceptable.
    expect(await ask({ ...host, ...forged, 'x-test-iss': 'https://evil.example/credential' })).toMatchObject({ accepts: false });
  });

  it('with a public URL, accepts its two issuers only', async () => {
    issuers = new TokenIssuers('https://api.example.com', () => false);
    expect(await ask({ host: 'gw.internal', 'x-test-iss': 'https://api.example.com/auth' })).toMatchObject({ accepts: true });
    expect(await ask({ host: 'gw.internal', 'x-test-iss': 'http://gw.internal/credential' })).toMatchObject({ accepts: false });
  });
});
