// The peer of the token-service and OIDC benchmarks: oidc-provider (npm, unmodified) in a process
// of its own, like the Gateway it is compared with, so neither shares an event loop with the load
// generator. Prints {"port":N} when listening; exits when stdin closes (the harness went away).
//   node bench/oidc-provider-server.mjs
//     One client, client_credentials, resource indicator with RS256 JWT access tokens.
//   node bench/oidc-provider-server.mjs code-flow <redirect URI>
//     The authorization code flow as bench/oidc-code-flow.mjs runs it on our Gateway: one
//     confidential client "bench-app" (client_secret_basic, PKCE S256 required), RS256 ID tokens
//     and RS256 JWT access tokens (a resource indicator, as our OP signs its access tokens too),
//     the development login and consent pages (any login name is accepted).
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

const { default: Provider } = await import('oidc-provider');
const [mode = 'client-credentials', redirectUri] = process.argv.slice(2);
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
const resourceIndicators = {
  enabled: true,
  defaultResource: () => 'urn:bench',
  getResourceServerInfo: () => ({ scope: 'read', audience: 'urn:bench', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
  useGrantedResource: () => true,
};

function clientCredentialsConfig() {
  return {
    clients: [{ client_id: 'bench', client_secret: 'bench-secret', grant_types: ['client_credentials'], redirect_uris: [], response_types: [] }],
    jwks: { keys: [jwk] },
    // An explicit lifetime (and no NOTICE about the default one on every start).
    ttl: { ClientCredentials: 600 },
    features: { clientCredentials: { enabled: true }, resourceIndicators },
  };
}

function codeFlowConfig() {
  if (!redirectUri) throw new Error('code-flow needs the redirect URI');
  return {
    clients: [
      {
        client_id: 'bench-app',
        client_secret: 'bench-app-secret-0123456789',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [redirectUri],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'RS256',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: ['bench-cookie-key-0123456789abcdef'] },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    pkce: { required: () => true },
    // Explicit lifetimes, the ones of our OP's defaults (and no NOTICE about the defaults on every start).
    ttl: { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Grant: 8 * 3600, Session: 8 * 3600, Interaction: 600 },
    features: { devInteractions: { enabled: true }, resourceIndicators },
  };
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const provider = new Provider(`http://127.0.0.1:${port}`, mode === 'code-flow' ? codeFlowConfig() : clientCredentialsConfig());
  provider.on('server_error', (_ctx, err) => process.stderr.write(`server_error ${err.stack}\n`));
  server.on('request', provider.callback());
  process.stdout.write(JSON.stringify({ port }) + '\n');
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
