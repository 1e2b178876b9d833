import { redirectUri, tokenSettingsSchema } from './token-settings.schema';

describe('OIDC client settings', () => {
  const oidc = { redirectUris: ['https://rp.example/cb'] };

  it.each([
    'https://rp.example/cb',
    'https://rp.example/cb?tenant=1',
    'http://127.0.0.1:7777/cb',
    'http://localhost/cb',
    'http://[::1]:8080/cb',
    'com.example.app:/oauth2redirect',
  ])('accepts the redirect URI %s', (uri) => expect(redirectUri.safeParse(uri).success).toBe(true));

  it.each([
    'http://rp.example/cb',
    'https://rp.example/cb#frag',
    'javascript:alert(1)',
    'data:text/html,x',
    'file:///etc/passwd',
    '/relative/cb',
    'https://rp.example/c b',
    'myapp:/cb',
  ])('refuses the redirect URI %s', (uri) => expect(redirectUri.safeParse(uri).success).toBe(false));

  it('ties the authorization_code grant to the oidc settings, both ways', () => {
    expect(tokenSettingsSchema.safeParse({ grants: ['authorization_code'], oidc }).success).toBe(true);
    expect(tokenSettingsSchema.safeParse({ grants: ['authorization_code'] }).success).toBe(false);
    expect(tokenSettingsSchema.safeParse({ grants: ['client_credentials'], oidc }).success).toBe(false);
  });

  it('makes a public client authenticate with none, use PKCE, and only the code and refresh grants', () => {
    const pub = { ...oidc, clientType: 'public', tokenEndpointAuthMethod: 'none' };
    expect(tokenSettingsSchema.safeParse({ grants: ['authorization_code'], oidc: pub }).success).toBe(true);
    expect(tokenSettingsSchema.safeParse({ grants: ['authorization_code'], oidc: { ...pub, tokenEndpointAuthMethod: 'client_secret_basic' } }).success).toBe(false);
    expect(tokenSettingsSchema.safeParse({ grants: ['authorization_code'], oidc: { ...pub, requirePkce: false } }).success).toBe(false);
    expect(tokenSettingsSchema.safeParse({ grants: ['authorization_code', 'client_credentials'], oidc: pub }).success).toBe(false);
    expect(tokenSettingsSchema.safeParse({ grants: ['authorization_code'], oidc: { ...oidc, tokenEndpointAuthMethod: 'none' } }).success).toBe(false);
  });
});
