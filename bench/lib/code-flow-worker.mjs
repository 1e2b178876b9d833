// Runs in its own process (started by lib/code-flow-load.mjs): the load generator of the
// authorization code benchmark. Each of `sessions.length` loops is one browser with an SSO
// session at the OP (its cookies) and runs complete flows back to back:
//   GET authorize (PKCE S256, state, nonce, prompt=none, the session cookie) -> 302 to the
//   redirect URI with a code -> POST token (client_secret_basic, code, redirect_uri,
//   code_verifier) -> 200 with an access token and an ID token.
// A flow counts only when every step is right: the redirect goes to the registered URI with our
// state and the OP's `iss`, the token answer is a Bearer JWT access token and an ID token whose
// RS256 signature verifies with the OP's key and whose iss/aud/nonce are this flow's. Anything
// else is a failure (the run is then invalid). Prints one JSON line with the summary.
import { URLSearchParams } from 'node:url';
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { Agent, request } from 'node:http';

const { authorizeUrl, tokenUrl, issuer, clientId, clientSecret, redirectUri, scope, sessions, durationSec, jwks } = JSON.parse(process.argv[2]);
const keys = new Map(jwks.keys.map((k) => [k.kid, createPublicKey({ key: k, format: 'jwk' })]));
const agent = new Agent({ keepAlive: true, maxSockets: sessions.length * 2 });
const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;

function send(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent, timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

class FlowError extends Error {}
const check = (ok, reason) => {
  if (!ok) throw new FlowError(reason);
};

function payloadOf(jwt, what) {
  const parts = jwt.split('.');
  check(parts.length === 3, `${what} is not a compact JWS`);
  const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  return { header, payload: JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')), parts };
}

/** One browser's cookies, updated from the OP's answers as a browser would. */
function updateCookies(cookies, setCookies = []) {
  for (const line of setCookies) {
    const [pair, ...attributes] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (value === '' || attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now()))) cookies.delete(name);
    else cookies.set(name, value);
  }
}

async function flow(cookies) {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const query = new URLSearchParams({
    client_id: clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope,
    state,
    nonce,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    prompt: 'none',
  });
  const authorized = await send(`${authorizeUrl}?${query}`, { headers: { cookie: [...cookies].map(([n, v]) => `${n}=${v}`).join('; '), accept: 'text/html' } });
  check(authorized.status === 302 || authorized.status === 303, `authorize answered ${authorized.status}`);
  updateCookies(cookies, authorized.headers['set-cookie']);
  const location = new URL(authorized.headers.location, authorizeUrl);
  check(`${location.origin}${location.pathname}` === redirectUri, 'authorize redirected elsewhere than the redirect URI');
  check(!location.searchParams.has('error'), `authorize answered error=${location.searchParams.get('error')}`);
  check(location.searchParams.get('state') === state, 'state mismatch');
  check(location.searchParams.get('iss') === issuer, 'iss (RFC 9207) mismatch');
  const code = location.searchParams.get('code');
  check(code, 'no code');
  const token = await send(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic, accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier }).toString(),
  });
  check(token.status === 200, `token answered ${token.status}: ${token.body.slice(0, 200)}`);
  const answer = JSON.parse(token.body);
  check(/^bearer$/i.test(answer.token_type ?? ''), `token_type ${answer.token_type}`);
  const access = payloadOf(answer.access_token ?? '', 'the access token');
  check(access.payload.iss === issuer, 'access token iss');
  const id = payloadOf(answer.id_token ?? '', 'the ID token');
  check(id.header.alg === 'RS256', `ID token alg ${id.header.alg}`);
  const key = keys.get(id.header.kid);
  check(key, `ID token kid ${id.header.kid} is not in the OP's JWKS`);
  check(verify('sha256', Buffer.from(`${id.parts[0]}.${id.parts[1]}`), key, Buffer.from(id.parts[2], 'base64url')), 'ID token signature does not verify');
  const aud = Array.isArray(id.payload.aud) ? id.payload.aud : [id.payload.aud];
  check(id.payload.iss === issuer && aud.includes(clientId) && id.payload.nonce === nonce, 'ID token iss/aud/nonce mismatch');
  check(typeof id.payload.sub === 'string' && id.payload.exp * 1000 > Date.now(), 'ID token sub/exp');
}

// exit with the harness even if it was killed without a chance to clean up
process.stdin.resume();
process.stdin.on('end', () => process.exit(1));

const cpuStart = process.cpuUsage();
const latencies = [];
const failures = new Map();
let flows = 0;
const started = performance.now();
const endAt = started + durationSec * 1000;
await Promise.all(
  sessions.map(async (cookieHeader) => {
    const cookies = new Map(cookieHeader.split('; ').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
    while (performance.now() < endAt) {
      const t0 = performance.now();
      try {
        await flow(cookies);
        flows++;
        latencies.push(performance.now() - t0);
      } catch (err) {
        const reason = err instanceof FlowError ? err.message : `error: ${err.message}`;
        failures.set(reason, (failures.get(reason) ?? 0) + 1);
        // A broken OP answers fast: do not spin the machine on it.
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }),
);
const elapsed = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] : null);
const cpu = process.cpuUsage(cpuStart);
process.stdout.write(
  JSON.stringify({
    flows,
    elapsedSec: elapsed,
    failures: Object.fromEntries(failures),
    latencyMs: { p50: pct(50), p90: pct(90), p99: pct(99) },
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  }) + '\n',
  () => process.exit(0),
);
