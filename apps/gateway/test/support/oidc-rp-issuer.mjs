// The external OpenID Provider of the `oidc` policy's specs: oidc-provider (npm, unmodified) in a
// process of its own, with its development login and consent pages (any login name is accepted).
// argv[2]: the redirect URIs of the Gateway's callbacks (comma-separated); argv[3]: a post-logout
// redirect URI. One confidential client, "gateway-rp" (client_secret_basic, authorization code +
// PKCE, refresh tokens for logins with the `profile` scope: the policy's token refresh is tested
// with them, and the end of a session whose token cannot be refreshed without). Users'
// ID tokens carry `email`, `name` and `roles` (scope `roles`); userinfo also `department`,
// `nickname`, `motto` (with CR/LF) and `bio` (2,000 characters) (scope `org`); a `swap-` user's userinfo names another sub. Prints {"port":N} when listening;
// revokes a user's refresh tokens on a stdin line "revoke <sub>" (answering {"revoked":N}); exits when stdin closes.
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';

const { default: Provider } = await import('oidc-provider');
const [redirectUris, postLogoutRedirectUri] = process.argv.slice(2);

const server = createServer((req, res) => handler(req, res));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: 'gateway-rp',
      client_secret: 'rp-secret-0123456789abcdef',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: redirectUris.split(','),
      post_logout_redirect_uris: [postLogoutRedirectUri],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], roles: ['roles'], org: ['department', 'nickname', 'motto', 'bio'] },
  // The scopes' claims in the ID token itself (the policy asks userinfo only with `userinfo: true`).
  conformIdTokenClaims: false,
  // A login name starting with `swap-` is another account at userinfo (looked up with the access
  // token): its `sub` there is not the ID token's (an OP mixing up users, OIDC Core 5.3.2).
  findAccount: (_ctx, sub, token) => ({
    accountId: token?.kind === 'AccessToken' && sub.startsWith('swap-') ? `${sub}-someone-else` : sub,
    claims: (use) => ({
      sub,
      email: `${sub}@example.test`,
      email_verified: true,
      name: `User ${sub}`,
      roles: ['reader', 'writer'],
      // Scope `org`: in userinfo only (never in the ID token), and hostile where a user could edit their profile at the OP.
      ...(use === 'userinfo' && { department: 'Sales', nickname: 'Zoë', motto: 'hi\r\nX-Injected: yes', bio: 'x'.repeat(2000) }),
    }),
  }),
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  pkce: { required: () => true },
  issueRefreshToken: (_ctx, _client, code) => code.scopes.has('profile'),
});
provider.on('server_error', (_ctx, err) => process.stderr.write(`server_error ${err.stack}\n`));
const handler = provider.callback();
// The refresh tokens issued per user, so a test can revoke them ("revoke <sub>" on stdin).
const refreshTokens = new Map();
provider.on('refresh_token.saved', (token) => refreshTokens.set(token.accountId, [...(refreshTokens.get(token.accountId) ?? []), token]));
process.stdout.write(JSON.stringify({ port }) + '\n');
createInterface({ input: process.stdin }).on('line', async (line) => {
  const [command, sub] = line.split(' ');
  if (command !== 'revoke') return;
  const tokens = refreshTokens.get(sub) ?? [];
  refreshTokens.delete(sub);
  for (const token of tokens) await token.destroy();
  process.stdout.write(JSON.stringify({ revoked: tokens.length }) + '\n');
});
process.stdin.on('end', () => process.exit(0));
