import { OAuthError } from './oauth-error';

describe('OAuthError', () => {
  it('renders RFC 6749 JSON without the status or stack', () => {
    const error = new OAuthError('invalid_grant', 'the refresh token is invalid');
    expect(JSON.parse(JSON.stringify(error))).toEqual({ error: 'invalid_grant', error_description: 'the refresh token is invalid' });
    expect(error.status).toBe(400);
  });

  it('uses the status each code is answered with unless told otherwise', () => {
    expect(new OAuthError('invalid_client', 'x').status).toBe(401);
    expect(new OAuthError('invalid_token', 'x').status).toBe(401);
    expect(new OAuthError('server_error', 'x').status).toBe(500);
    expect(new OAuthError('temporarily_unavailable', 'x').status).toBe(503);
    expect(new OAuthError('server_error', 'token store unavailable', 503).status).toBe(503);
  });
});
