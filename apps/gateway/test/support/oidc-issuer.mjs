// A real external issuer for the key-manager specs: oidc-provider (npm, unmodified) in a process
// of its own. argv[2]: the JWT signing algorithm (RS256, ES256 or EdDSA). One confidential client
// ("gateway", client_credentials, introspection); resource `urn:api:jwt` gets JWT access tokens,
// `urn:api:opaque` opaque ones. Prints {"port":N} when listening. Commands on stdin, one per line,
// each answered with {"ok":"<command>"}: `rotate` (a new signing key first, the old one still
// published), `down` (connections refused), `up`. Exits when stdin closes.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';

const { default: Provider } = await import('oidc-provider');
const alg = process.argv[2] ?? 'RS256';

let generation = 0;
function newKey() {
  generation++;
  const pair =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...pair.privateKey.export({ format: 'jwk' }), kid: `${alg.toLowerCase()}-k${generation}-${process.pid}`, alg, use: 'sig' };
}

let keys = [newKey()];
let port = Number(process.argv[3] ?? 0);
let handler;
let server;

function providerFor(issuer) {
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'gateway',
        client_secret: 'gateway-secret-0123456789',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        id_token_signed_response_alg: alg,
      },
    ],
    jwks: { keys },
    ttl: { ClientCredentials: 600 },
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'urn:api:jwt',
        getResourceServerInfo: (_ctx, resource) =>
          resource === 'urn:api:opaque'
            ? { scope: 'read write', audience: 'urn:api:opaque', accessTokenFormat: 'opaque' }
            : { scope: 'read write', audience: 'urn:api:jwt', accessTokenFormat: 'jwt', jwt: { sign: { alg } } },
        useGrantedResource: () => true,
      },
    },
  });
  provider.on('server_error', (_ctx, err) => process.stderr.write(`server_error ${err.stack}\n`));
  return provider;
}

function start() {
  return new Promise((resolve) => {
    server = createServer((req, res) => handler(req, res));
    server.listen(port, '127.0.0.1', () => {
      port = server.address().port;
      handler ??= providerFor(`http://127.0.0.1:${port}`).callback();
      resolve();
    });
  });
}

await start();
process.stdout.write(JSON.stringify({ port }) + '\n');
const answer = (command) => process.stdout.write(JSON.stringify({ ok: command }) + '\n');
createInterface({ input: process.stdin }).on('line', async (command) => {
  if (command === 'rotate') {
    keys = [newKey(), ...keys];
    handler = providerFor(`http://127.0.0.1:${port}`).callback();
  } else if (command === 'down') {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  } else if (command === 'up') await start();
  answer(command);
});
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
