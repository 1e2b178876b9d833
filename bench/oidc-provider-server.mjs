// The peer of the token-service benchmark: oidc-provider (npm, unmodified) in a process of its
// own, like the Gateway it is compared with, so neither shares an event loop with the load
// generator. One client, client_credentials, resource indicator with RS256 JWT access tokens.
// Prints {"port":N} when listening; exits when stdin closes (the harness went away).
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

const { default: Provider } = await import('oidc-provider');
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [{ client_id: 'bench', client_secret: 'bench-secret', grant_types: ['client_credentials'], redirect_uris: [], response_types: [] }],
    jwks: { keys: [jwk] },
    // An explicit lifetime (and no NOTICE about the default one on every start).
    ttl: { ClientCredentials: 600 },
    features: {
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'urn:bench',
        getResourceServerInfo: () => ({ scope: 'read', audience: 'urn:bench', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
        useGrantedResource: () => true,
      },
    },
  });
  server.on('request', provider.callback());
  process.stdout.write(JSON.stringify({ port }) + '\n');
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
