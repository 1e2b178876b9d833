import { isGatewayOwnedHeader, isReservedForPolicies, normalizeHeaderName } from './reserved-upstream-headers';
import { validatePolicySpecs } from './validate-policy-specs';

describe('reserved upstream headers', () => {
  it('reads "_" as "-" and leaves names without "_" as they are', () => {
    expect(normalizeHeaderName('x_authenticated_userid')).toBe('x-authenticated-userid');
    expect(normalizeHeaderName('x-authenticated_userroles')).toBe('x-authenticated-userroles');
    const plain = 'x-api-key';
    expect(normalizeHeaderName(plain)).toBe(plain);
  });

  it.each([
    'x-authenticated-userid',
    'x-authenticated-userroles',
    'x-authenticated-anything',
    'x-forwarded-for',
    'x-forwarded-host',
    'x-forwarded-proto',
    'x-forwarded-port',
    'x-forwarded-prefix',
    'forwarded',
    'x-real-ip',
    'x-request-id',
    'host',
    'connection',
    'transfer-encoding',
    'proxy-authorization',
    'proxy',
    'x-original-url',
    'x-rewrite-url',
    'true-client-ip',
    'x-client-ip',
    'cf-connecting-ip',
    'x-forwarded-ssl',
  ])('%s belongs to the Gateway', (name) => {
    expect(isGatewayOwnedHeader(name)).toBe(true);
  });

  it.each(['authorization', 'x-api-key', 'content-type', 'accept', 'x-user-email', 'x-forwarded', 'proxyish'])('%s is the client’s', (name) => {
    expect(isGatewayOwnedHeader(name)).toBe(false);
  });

  it('keeps policies off the Gateway’s headers and the framing headers', () => {
    expect(isReservedForPolicies('content-length')).toBe(true);
    expect(isReservedForPolicies('x-real-ip')).toBe(true);
    expect(isReservedForPolicies('x-user-email')).toBe(false);
  });

  it('refuses jwt-auth claim headers the Gateway owns, naming the header', () => {
    for (const header of ['X-Authenticated-UserRoles', 'X-Forwarded-For', 'Host', 'Content-Length', 'Forwarded']) {
      expect(() => validatePolicySpecs([{ type: 'jwt-auth', config: { claimHeaders: { roles: header } } }])).toThrow(/the Gateway sets or strips itself/);
    }
    expect(() => validatePolicySpecs([{ type: 'jwt-auth', config: { claimHeaders: { email: 'X-User-Email' } } }])).not.toThrow();
  });
});
