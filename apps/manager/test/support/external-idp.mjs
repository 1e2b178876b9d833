// The external OpenID Provider of the `oidc` identity source's e2e test (#16): oidc-provider (npm,
// unmodified) in a process of its own, with its development login and consent pages (any login
// name is accepted, the account is the login name). argv[2]: the redirect URI (the Gateway's
// /credential/external/callback). One confidential client, "idm-gateway" (client_secret_basic,
// code + PKCE), its secret argv[3]. ID tokens carry preferred_username, email, email_verified,
// name and groups (`staff`; `outsiders` for a login starting with "out-", whose email is not verified).
// Prints {"port":N} when listening; exits when stdin closes.
import { createServer } from 'node:http';

const { default: Provider } = await import('oidc-provider');
const [redirectUri, clientSecret] = process.argv.slice(2);

const server = createServer((req, res) => handler(req, res));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: 'idm-gateway',
      client_secret: clientSecret,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username', 'groups'] },
  // The scopes' claims in the ID token itself (the Gateway reads no userinfo).
  conformIdTokenClaims: false,
  findAccount: (_ctx, sub) => ({
    accountId: sub,
    claims: () => {
      const outsider = sub.startsWith('out-');
      return {
        sub: `idp-${sub}`,
        preferred_username: sub,
        email: `${sub}@idp.example`,
        email_verified: !outsider,
        name: `IdP ${sub}`,
        groups: outsider ? ['outsiders'] : ['staff'],
      };
    },
  }),
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
});
provider.on('server_error', (_ctx, err) => process.stderr.write(`server_error ${err.stack}\n`));
const handler = provider.callback();
process.stdout.write(JSON.stringify({ port }) + '\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
