import type { KeyManager } from '../../api/types';
import { DEFAULT_TIMING, NEW_KEY_MANAGER, bodyOf, draftOf, parseClaimHeaders } from './key-manager-draft';

const stored: KeyManager = {
  id: '6f1c2f9e-0d4b-4a8e-9a51-0c7e7f0f1a01',
  name: 'keycloak',
  description: null,
  type: 'external',
  projectId: null,
  issuer: 'https://kc.example.com/realms/main',
  discoveryUrl: 'https://kc.example.com/realms/main/.well-known/openid-configuration',
  jwksUri: null,
  introspectionEndpoint: null,
  clientId: 'gateway',
  hasClientSecret: true,
  clientSecretId: null,
  hasSharedSecret: false,
  sharedSecretId: '6f1c2f9e-0d4b-4a8e-9a51-0c7e7f0f1a02',
  algorithms: ['RS256'],
  audiences: ['orders'],
  clockSkewSeconds: 30,
  requiredClaims: [],
  claimMappings: { userId: 'sub', username: 'preferred_username', roles: 'roles', scopes: 'scope', headers: { email: 'x-user-email' } },
  tokenTypes: 'both',
  roleList: { type: 'DENY', roles: ['contractor'] },
  tls: { caPem: '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----', clientCertificatePem: null, hasClientKey: false },
  timing: { ...DEFAULT_TIMING, timeoutMs: 2_000 },
  enabled: true,
  createdAt: '2026-12-02T00:00:00.000Z',
  updatedAt: '2026-12-02T00:00:00.000Z',
};

describe('the key manager form body', () => {
  it('creates with only what was given: System scope as null, no empty endpoint or secret', () => {
    const body = bodyOf({ ...NEW_KEY_MANAGER, name: ' partner ', issuer: 'https://p.example.com/', discoveryUrl: 'https://p.example.com/.well-known/openid-configuration' }, true);
    expect(body).toEqual({
      name: 'partner',
      type: 'external',
      projectId: null,
      issuer: 'https://p.example.com/',
      discoveryUrl: 'https://p.example.com/.well-known/openid-configuration',
      algorithms: ['RS256'],
      audiences: [],
      clockSkewSeconds: 30,
      requiredClaims: [],
      claimMappings: { userId: 'sub', username: 'sub', roles: 'roles', scopes: 'scope', headers: {} },
      tokenTypes: 'jwt',
      roleList: null,
      tls: {},
      timing: DEFAULT_TIMING,
      enabled: true,
    });
  });

  it('updates without type or scope, keeps stored secrets when left empty, and removes the endpoints the chosen source does not use', () => {
    const draft = { ...draftOf(stored), source: 'explicit' as const, jwksUri: 'https://kc.example.com/certs', roleListType: 'none' as const };
    const body = bodyOf(draft, false);
    expect(body).toMatchObject({
      discoveryUrl: null,
      jwksUri: 'https://kc.example.com/certs',
      introspectionEndpoint: null,
      description: null,
      clientId: 'gateway',
      roleList: null,
    });
    expect(body).not.toHaveProperty('type');
    expect(body).not.toHaveProperty('projectId');
    expect(body).not.toHaveProperty('clientSecret');
    expect(bodyOf({ ...draft, clientSecret: 'new-secret' }, false).clientSecret).toBe('new-secret');
    expect(body.claimMappings).toEqual(stored.claimMappings);
    // Project secret references: the stored one kept, none picked removes it; TLS and timing sent whole.
    expect(body).toMatchObject({ clientSecretId: null, sharedSecretId: stored.sharedSecretId, tls: { caPem: stored.tls.caPem }, timing: stored.timing });
    expect(bodyOf({ ...draft, sharedSecretId: '' }, false).sharedSecretId).toBeNull();
    expect(bodyOf({ ...draft, timing: { ...draft.timing, timeoutMs: '1500' } }, false).timing).toMatchObject({ timeoutMs: 1500 });
    expect(bodyOf({ ...draft, clientCertificatePem: 'CERT', clientKeyPem: '' }, false).tls).toEqual({ caPem: stored.tls.caPem, clientCertificatePem: 'CERT' });
  });

  it('reads claim headers one per line; a line without a colon is sent for the Manager to name', () => {
    expect(parseClaimHeaders('email: x-user-email\n\n tenant :x-tenant \nbroken')).toEqual({ email: 'x-user-email', tenant: 'x-tenant', broken: '' });
  });
});
