import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Browser, locationOf } from './test-browser';

/** External OpenID Providers for the `oidc` identity source's tests: the real one (oidc-provider) and a hostile one. */
export interface ExternalIdp {
  issuer: string;
  child: ChildProcessWithoutNullStreams;
}

/**
 * The IdP's process (external-idp.mjs: oidc-provider with its development login pages), its one
 * client `idm-gateway` registered with `redirectUri` and `clientSecret`.
 */
export function startExternalIdp(redirectUri: string, clientSecret: string): Promise<ExternalIdp> {
  const child = spawn(process.execPath, [join(__dirname, 'external-idp.mjs'), redirectUri, clientSecret], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.resume();
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the IdP exited (${code})`)));
    createInterface({ input: child.stdout }).once('line', (line) => resolve({ issuer: `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`, child }));
  });
}

/**
 * A hostile IdP: well-formed metadata and a correctly signed ID token, but for another audience
 * (issuer path /wrong-aud), with another nonce (/wrong-nonce) or naming another issuer
 * (/wrong-iss); /ok signs a valid one. It sends the browser straight back with a code, as if the
 * user had signed in.
 */
export async function startHostileIdp(): Promise<{ base: string; server: Server }> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'hostile', alg: 'RS256', use: 'sig' };
  const nonces = new Map<string, string>();
  let base = '';
  const json = (res: import('node:http').ServerResponse, body: unknown) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', base);
    const [, mode, ...rest] = url.pathname.split('/');
    const issuer = `${base}/${mode}`;
    const path = `/${rest.join('/')}`;
    if (path === '/.well-known/openid-configuration')
      return json(res, {
        issuer,
        authorization_endpoint: `${issuer}/auth`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
      });
    if (path === '/jwks') return json(res, { keys: [jwk] });
    if (path === '/auth') {
      const code = randomBytes(16).toString('hex');
      nonces.set(code, url.searchParams.get('nonce') ?? '');
      const back = new URL(url.searchParams.get('redirect_uri')!);
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (path === '/token') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const code = new URLSearchParams(body).get('code') ?? '';
        const now = Math.floor(Date.now() / 1000);
        const claims = {
          iss: mode === 'wrong-iss' ? `${issuer}/elsewhere` : issuer,
          sub: 'mallory',
          preferred_username: 'mallory',
          email_verified: true,
          aud: mode === 'wrong-aud' ? 'someone-else' : 'idm-gateway',
          nonce: mode === 'wrong-nonce' ? 'not-the-nonce-we-sent' : nonces.get(code),
          iat: now,
          exp: now + 300,
        };
        const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
        const input = `${part({ alg: 'RS256', kid: 'hostile', typ: 'JWT' })}.${part(claims)}`;
        const idToken = `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
        json(res, { access_token: randomBytes(16).toString('hex'), token_type: 'Bearer', expires_in: 300, id_token: idToken });
      });
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { base, server };
}

/** Walks the IdP's development login and consent pages to the redirect back to its client (not followed). */
export async function loginAtIdp(browser: Browser, idpIssuer: string, authorizeUrl: string, login: string): Promise<string> {
  let url = authorizeUrl;
  for (let hop = 0; hop < 12; hop++) {
    if (!url.startsWith(idpIssuer)) return url;
    const res = await browser.get(url);
    if (res.status >= 300 && res.status < 400) {
      url = locationOf(res, url);
      continue;
    }
    const html = await res.text();
    expect(res.status).toBe(200);
    const action = /<form[^>]*action="([^"]+)"/.exec(html)![1];
    const prompt = /name="prompt" value="([a-z]+)"/.exec(html)![1];
    url = locationOf(await browser.postForm(new URL(action, url).href, prompt === 'login' ? { prompt, login, password: 'any' } : { prompt }), url);
  }
  throw new Error('the IdP did not send the browser back');
}
