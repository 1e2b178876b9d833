import { EnvironmentConfigStore } from '@idm/config-bus';
import { PERMISSIONS, type Permission } from '@idm/domain';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const UNKNOWN = '00000000-0000-4000-8000-000000000000';
const UNKNOWN_BLOCK = 'AAAAAAAAAAAAAAAAAAAAAA';

type Ids = Record<'env' | 'project' | 'keyManager' | 'identitySource' | 'secret' | 'endUser' | 'oidcClient' | 'plainCredential', string>;
type Call = { method: string; path: string; body?: unknown; rawBody?: string };
interface Route {
  route: string;
  /** The permission whose absence the route's 403 names; null: any signed-in operator may call it. */
  permission: Permission | null;
  /** A call that would succeed for an operator holding the permission (ids of existing entities, a valid body). */
  call: (ids: Ids) => Call;
  /** Bad input (admin): the status and reason code each must get. */
  bad: (ids: Ids) => [Call, number, string][];
}

const sharedSecret = () => randomBytes(32).toString('base64url');
const ldap = (name: string, projectId: string) => ({
  name,
  type: 'ldap',
  projectId,
  config: { url: 'ldaps://ldap.example.org:636', bind: { mode: 'search', bindDn: 'cn=svc,dc=example,dc=org', baseDn: 'ou=people,dc=example,dc=org' } },
});
const keyManager = (name: string, projectId: string) => ({ name, projectId, issuer: `https://${name}.example.com`, jwksUri: `https://${name}.example.com/jwks` });
const endUser = (username: string) => ({ username, email: `${username}@example.com` });
const get = (path: string): Call => ({ method: 'GET', path });
const del = (path: string): Call => ({ method: 'DELETE', path });
const send = (method: string, path: string, body: unknown): Call => ({ method, path, body });
/** A body that is not JSON at all: the parser's refusal, never a 500. */
const garbled = (method: string, path: string): [Call, number, string] => [{ method, path, rawBody: '{"name": ' }, 400, 'malformed_json'];
/** The same route with a path id that is not a UUID, and with one nobody has. */
const ids404 = (method: string, path: (id: string) => string, code: string, body?: unknown): [Call, number, string][] => [
  [{ method, path: path('not-a-uuid'), body }, 400, 'invalid_id'],
  [{ method, path: path(UNKNOWN), body }, 404, code],
];

/**
 * Every Manager route added with issues #13-#18 (identity sources, key managers, project secrets,
 * end users and their consents, OIDC clients, brute-force settings and blocks, auth analytics,
 * policy types, my permissions, Gateway status):
 * - an operator holding every other permission at System scope gets 403 naming the route's own
 *   (so the route checks this permission, not a neighbour);
 * - malformed path ids, bodies and queries get 400 with a reason code, unknown ids 404, never 500;
 * - without a session, 401.
 * A new route belongs in ROUTES; openapi-conformance checks that the document lists it.
 */
const ROUTES: Route[] = [
  {
    route: 'GET /analytics/auth',
    permission: 'analytics:read',
    call: () => get('/api/v1/analytics/auth'),
    bad: () => [
      [get('/api/v1/analytics/auth?bucket=week'), 400, 'validation_failed'],
      [get('/api/v1/analytics/auth?surprise=1'), 400, 'validation_failed'],
    ],
  },
  {
    route: 'GET /analytics/auth/stream',
    permission: 'analytics:read',
    call: () => get('/api/v1/analytics/auth/stream'),
    bad: () => [[get('/api/v1/analytics/auth/stream?outcome=maybe'), 400, 'validation_failed']],
  },
  {
    route: 'GET /environments/{id}/blocks',
    permission: 'credential:read',
    call: (i) => get(`/api/v1/environments/${i.env}/blocks`),
    bad: () => ids404('GET', (id) => `/api/v1/environments/${id}/blocks`, 'environment_not_found'),
  },
  {
    route: 'DELETE /environments/{id}/blocks/{blockId}',
    permission: 'credential:read',
    call: (i) => del(`/api/v1/environments/${i.env}/blocks/${UNKNOWN_BLOCK}`),
    bad: (i) => [
      [del(`/api/v1/environments/${i.env}/blocks/not!a!block`), 400, 'invalid_id'],
      [del(`/api/v1/environments/${i.env}/blocks/${UNKNOWN_BLOCK}`), 404, 'block_not_found'],
      [del(`/api/v1/environments/not-a-uuid/blocks/${UNKNOWN_BLOCK}`), 400, 'invalid_id'],
      [del(`/api/v1/environments/${UNKNOWN}/blocks/${UNKNOWN_BLOCK}`), 404, 'environment_not_found'],
    ],
  },
  {
    route: 'GET /environments/{id}/gateways',
    permission: 'environment:read',
    call: (i) => get(`/api/v1/environments/${i.env}/gateways`),
    bad: () => ids404('GET', (id) => `/api/v1/environments/${id}/gateways`, 'environment_not_found'),
  },
  {
    route: 'GET /projects/{id}/brute-force-settings',
    permission: 'project:read',
    call: (i) => get(`/api/v1/projects/${i.project}/brute-force-settings`),
    bad: () => ids404('GET', (id) => `/api/v1/projects/${id}/brute-force-settings`, 'project_not_found'),
  },
  {
    route: 'PUT /projects/{id}/brute-force-settings',
    permission: 'project:write',
    call: (i) => send('PUT', `/api/v1/projects/${i.project}/brute-force-settings`, { perCredential: 3 }),
    bad: (i) => [
      [send('PUT', `/api/v1/projects/${i.project}/brute-force-settings`, { perCredential: 'many' }), 400, 'validation_failed'],
      [send('PUT', `/api/v1/projects/${i.project}/brute-force-settings`, []), 400, 'body_required'],
      garbled('PUT', `/api/v1/projects/${i.project}/brute-force-settings`),
      ...ids404('PUT', (id) => `/api/v1/projects/${id}/brute-force-settings`, 'project_not_found', { perCredential: 3 }),
    ],
  },
  {
    route: 'DELETE /projects/{id}/brute-force-settings',
    permission: 'project:write',
    call: (i) => del(`/api/v1/projects/${i.project}/brute-force-settings`),
    bad: (i) => [
      ...ids404('DELETE', (id) => `/api/v1/projects/${id}/brute-force-settings`, 'project_not_found'),
      [del(`/api/v1/projects/${i.project}/brute-force-settings`), 404, 'brute_force_settings_not_found'],
    ],
  },
  {
    route: 'GET /projects/{id}/users',
    permission: 'credential:read',
    call: (i) => get(`/api/v1/projects/${i.project}/users`),
    bad: (i) => [
      [get(`/api/v1/projects/${i.project}/users?limit=0`), 400, 'validation_failed'],
      [get('/api/v1/projects/not-a-uuid/users'), 400, 'invalid_id'],
    ],
  },
  {
    route: 'POST /projects/{id}/users',
    permission: 'credential:write',
    call: (i) => send('POST', `/api/v1/projects/${i.project}/users`, endUser(`guard-${randomBytes(3).toString('hex')}`)),
    bad: (i) => [
      [send('POST', `/api/v1/projects/${i.project}/users`, { username: 5 }), 400, 'validation_failed'],
      garbled('POST', `/api/v1/projects/${i.project}/users`),
      ...ids404('POST', (id) => `/api/v1/projects/${id}/users`, 'project_not_found', endUser('nobody-here')),
    ],
  },
  {
    route: 'GET /projects/{id}/users/{userId}',
    permission: 'credential:read',
    call: (i) => get(`/api/v1/projects/${i.project}/users/${i.endUser}`),
    bad: (i) => ids404('GET', (id) => `/api/v1/projects/${i.project}/users/${id}`, 'end_user_not_found'),
  },
  {
    route: 'PATCH /projects/{id}/users/{userId}',
    permission: 'credential:write',
    call: (i) => send('PATCH', `/api/v1/projects/${i.project}/users/${i.endUser}`, { locked: false }),
    bad: (i) => [
      [send('PATCH', `/api/v1/projects/${i.project}/users/${i.endUser}`, { locked: 'yes' }), 400, 'validation_failed'],
      garbled('PATCH', `/api/v1/projects/${i.project}/users/${i.endUser}`),
      ...ids404('PATCH', (id) => `/api/v1/projects/${i.project}/users/${id}`, 'end_user_not_found', { locked: false }),
    ],
  },
  {
    route: 'GET /projects/{id}/users/{userId}/consents',
    permission: 'credential:read',
    call: (i) => get(`/api/v1/projects/${i.project}/users/${i.endUser}/consents`),
    bad: (i) => ids404('GET', (id) => `/api/v1/projects/${i.project}/users/${id}/consents`, 'end_user_not_found'),
  },
  {
    route: 'DELETE /projects/{id}/users/{userId}/consents/{clientId}',
    permission: 'credential:write',
    call: (i) => del(`/api/v1/projects/${i.project}/users/${i.endUser}/consents/${UNKNOWN}`),
    bad: (i) => [
      ...ids404('DELETE', (id) => `/api/v1/projects/${i.project}/users/${i.endUser}/consents/${id}`, 'consent_not_found'),
      ...ids404('DELETE', (id) => `/api/v1/projects/${i.project}/users/${id}/consents/${UNKNOWN}`, 'end_user_not_found'),
    ],
  },
  {
    route: 'GET /projects/{id}/oidc-clients',
    permission: 'credential:read',
    call: (i) => get(`/api/v1/projects/${i.project}/oidc-clients`),
    bad: (i) => [
      ...ids404('GET', (id) => `/api/v1/projects/${id}/oidc-clients`, 'project_not_found'),
      [get(`/api/v1/projects/${i.project}/oidc-clients?limit=0`), 400, 'validation_failed'],
      [get(`/api/v1/projects/${i.project}/oidc-clients?after=${'x'.repeat(129)}`), 400, 'validation_failed'],
      [get(`/api/v1/projects/${i.project}/oidc-clients?surprise=1`), 400, 'validation_failed'],
    ],
  },
  {
    route: 'GET /projects/{id}/oidc-clients/{clientId}/consents',
    permission: 'credential:read',
    call: (i) => get(`/api/v1/projects/${i.project}/oidc-clients/${i.oidcClient}/consents`),
    bad: (i) => [
      ...ids404('GET', (id) => `/api/v1/projects/${i.project}/oidc-clients/${id}/consents`, 'oidc_client_not_found'),
      // A credential that is not an OIDC client has no consents to list.
      [get(`/api/v1/projects/${i.project}/oidc-clients/${i.plainCredential}/consents`), 404, 'oidc_client_not_found'],
      [get(`/api/v1/projects/${i.project}/oidc-clients/${i.oidcClient}/consents?limit=501`), 400, 'validation_failed'],
      [get(`/api/v1/projects/${i.project}/oidc-clients/${i.oidcClient}/consents?surprise=1`), 400, 'validation_failed'],
    ],
  },
  {
    route: 'DELETE /projects/{id}/users/{userId}',
    permission: 'credential:write',
    call: (i) => del(`/api/v1/projects/${i.project}/users/${i.endUser}`),
    bad: (i) => ids404('DELETE', (id) => `/api/v1/projects/${i.project}/users/${id}`, 'end_user_not_found'),
  },
  {
    route: 'POST /projects/{id}/users/{userId}/verification-mail',
    permission: 'credential:write',
    call: (i) => send('POST', `/api/v1/projects/${i.project}/users/${i.endUser}/verification-mail`, undefined),
    bad: (i) => [
      ...ids404('POST', (id) => `/api/v1/projects/${i.project}/users/${id}/verification-mail`, 'end_user_not_found'),
      [send('POST', `/api/v1/projects/not-a-uuid/users/${i.endUser}/verification-mail`, undefined), 400, 'invalid_id'],
    ],
  },
  {
    route: 'POST /projects/{id}/users/{userId}/password-reset-mail',
    permission: 'credential:write',
    call: (i) => send('POST', `/api/v1/projects/${i.project}/users/${i.endUser}/password-reset-mail`, undefined),
    bad: (i) => ids404('POST', (id) => `/api/v1/projects/${i.project}/users/${id}/password-reset-mail`, 'end_user_not_found'),
  },
  {
    route: 'GET /projects/{id}/end-user-registration',
    permission: 'project:read',
    call: (i) => get(`/api/v1/projects/${i.project}/end-user-registration`),
    bad: () => ids404('GET', (id) => `/api/v1/projects/${id}/end-user-registration`, 'project_not_found'),
  },
  {
    route: 'PUT /projects/{id}/end-user-registration',
    permission: 'project:write',
    call: (i) => send('PUT', `/api/v1/projects/${i.project}/end-user-registration`, { selfRegistration: false }),
    bad: (i) => [
      [send('PUT', `/api/v1/projects/${i.project}/end-user-registration`, { selfRegistration: 'yes' }), 400, 'validation_failed'],
      [send('PUT', `/api/v1/projects/${i.project}/end-user-registration`, { selfRegistration: true, requireVerifiedEmail: 'yes' }), 400, 'validation_failed'],
      [send('PUT', `/api/v1/projects/${i.project}/end-user-registration`, { selfRegistration: true, surprise: true }), 400, 'validation_failed'],
      garbled('PUT', `/api/v1/projects/${i.project}/end-user-registration`),
      ...ids404('PUT', (id) => `/api/v1/projects/${id}/end-user-registration`, 'project_not_found', { selfRegistration: true }),
    ],
  },
  {
    route: 'GET /identity-sources',
    permission: 'identity-source:read',
    call: () => get('/api/v1/identity-sources'),
    bad: () => [],
  },
  {
    route: 'POST /identity-sources',
    permission: 'identity-source:write',
    call: (i) => send('POST', '/api/v1/identity-sources', ldap(`guard-${randomBytes(3).toString('hex')}`, i.project)),
    bad: (i) => [
      [send('POST', '/api/v1/identity-sources', { ...ldap('guard-bad', i.project), type: 'kerberos' }), 400, 'validation_failed'],
      [send('POST', '/api/v1/identity-sources', ldap('guard-noproject', UNKNOWN)), 404, 'project_not_found'],
      garbled('POST', '/api/v1/identity-sources'),
    ],
  },
  {
    route: 'GET /identity-sources/{id}',
    permission: 'identity-source:read',
    call: (i) => get(`/api/v1/identity-sources/${i.identitySource}`),
    bad: () => ids404('GET', (id) => `/api/v1/identity-sources/${id}`, 'identity_source_not_found'),
  },
  {
    route: 'PATCH /identity-sources/{id}',
    permission: 'identity-source:write',
    call: (i) => send('PATCH', `/api/v1/identity-sources/${i.identitySource}`, { enabled: true }),
    bad: (i) => [
      [send('PATCH', `/api/v1/identity-sources/${i.identitySource}`, { enabled: 'yes' }), 400, 'validation_failed'],
      garbled('PATCH', `/api/v1/identity-sources/${i.identitySource}`),
      ...ids404('PATCH', (id) => `/api/v1/identity-sources/${id}`, 'identity_source_not_found', { enabled: true }),
    ],
  },
  {
    route: 'POST /identity-sources/{id}/saml-metadata',
    permission: 'identity-source:write',
    call: (i) => send('POST', `/api/v1/identity-sources/${i.identitySource}/saml-metadata`, { metadataXml: '<EntityDescriptor/>' }),
    bad: (i) => [
      // The fixture is an LDAP source: metadata is for saml sources only.
      [send('POST', `/api/v1/identity-sources/${i.identitySource}/saml-metadata`, { metadataXml: '<EntityDescriptor/>' }), 422, 'identity_source_not_saml'],
      [send('POST', `/api/v1/identity-sources/${i.identitySource}/saml-metadata`, {}), 400, 'validation_failed'],
      garbled('POST', `/api/v1/identity-sources/${i.identitySource}/saml-metadata`),
      ...ids404('POST', (id) => `/api/v1/identity-sources/${id}/saml-metadata`, 'identity_source_not_found', { metadataXml: '<EntityDescriptor/>' }),
    ],
  },
  {
    route: 'POST /identity-sources/{id}/test',
    permission: 'identity-source:write',
    call: (i) => send('POST', `/api/v1/identity-sources/${i.identitySource}/test`, { username: 'alice', password: 'alice-pass' }),
    bad: (i) => [
      [send('POST', `/api/v1/identity-sources/${i.identitySource}/test`, { username: 'alice' }), 400, 'validation_failed'],
      garbled('POST', `/api/v1/identity-sources/${i.identitySource}/test`),
      ...ids404('POST', (id) => `/api/v1/identity-sources/${id}/test`, 'identity_source_not_found', {}),
    ],
  },
  {
    route: 'DELETE /identity-sources/{id}',
    permission: 'identity-source:write',
    call: (i) => del(`/api/v1/identity-sources/${i.identitySource}`),
    bad: () => ids404('DELETE', (id) => `/api/v1/identity-sources/${id}`, 'identity_source_not_found'),
  },
  {
    route: 'GET /key-managers',
    permission: 'key-manager:read',
    call: () => get('/api/v1/key-managers'),
    bad: () => [],
  },
  {
    route: 'POST /key-managers',
    permission: 'key-manager:write',
    call: (i) => send('POST', '/api/v1/key-managers', keyManager(`guard-${randomBytes(3).toString('hex')}`, i.project)),
    bad: (i) => [
      [send('POST', '/api/v1/key-managers', { ...keyManager('guard-bad', i.project), algorithms: ['none'] }), 400, 'validation_failed'],
      [send('POST', '/api/v1/key-managers', keyManager('guard-noproject', UNKNOWN)), 404, 'project_not_found'],
      [{ method: 'POST', path: '/api/v1/key-managers' }, 400, 'body_required'],
      garbled('POST', '/api/v1/key-managers'),
    ],
  },
  {
    route: 'GET /key-managers/{id}',
    permission: 'key-manager:read',
    call: (i) => get(`/api/v1/key-managers/${i.keyManager}`),
    bad: () => ids404('GET', (id) => `/api/v1/key-managers/${id}`, 'key_manager_not_found'),
  },
  {
    route: 'PATCH /key-managers/{id}',
    permission: 'key-manager:write',
    call: (i) => send('PATCH', `/api/v1/key-managers/${i.keyManager}`, { enabled: true }),
    bad: (i) => [
      [send('PATCH', `/api/v1/key-managers/${i.keyManager}`, { clockSkewSeconds: -1 }), 400, 'validation_failed'],
      garbled('PATCH', `/api/v1/key-managers/${i.keyManager}`),
      ...ids404('PATCH', (id) => `/api/v1/key-managers/${id}`, 'key_manager_not_found', { enabled: true }),
    ],
  },
  {
    route: 'DELETE /key-managers/{id}',
    permission: 'key-manager:write',
    call: (i) => del(`/api/v1/key-managers/${i.keyManager}`),
    bad: () => ids404('DELETE', (id) => `/api/v1/key-managers/${id}`, 'key_manager_not_found'),
  },
  {
    route: 'GET /projects/{id}/secrets',
    permission: 'secret:read',
    call: (i) => get(`/api/v1/projects/${i.project}/secrets`),
    bad: () => ids404('GET', (id) => `/api/v1/projects/${id}/secrets`, 'project_not_found'),
  },
  {
    route: 'POST /projects/{id}/secrets',
    permission: 'secret:write',
    call: (i) => send('POST', `/api/v1/projects/${i.project}/secrets`, { name: `guard-${randomBytes(3).toString('hex')}`, kind: 'shared-secret', material: sharedSecret() }),
    bad: (i) => [
      [send('POST', `/api/v1/projects/${i.project}/secrets`, { name: 'k', kind: 'password', material: 'x' }), 400, 'validation_failed'],
      garbled('POST', `/api/v1/projects/${i.project}/secrets`),
      ...ids404('POST', (id) => `/api/v1/projects/${id}/secrets`, 'project_not_found', { name: 'k', kind: 'shared-secret', material: sharedSecret() }),
    ],
  },
  {
    route: 'GET /projects/{id}/secrets/{secretId}',
    permission: 'secret:read',
    call: (i) => get(`/api/v1/projects/${i.project}/secrets/${i.secret}`),
    bad: (i) => ids404('GET', (id) => `/api/v1/projects/${i.project}/secrets/${id}`, 'secret_not_found'),
  },
  {
    route: 'PATCH /projects/{id}/secrets/{secretId}',
    permission: 'secret:write',
    call: (i) => send('PATCH', `/api/v1/projects/${i.project}/secrets/${i.secret}`, { description: 'guarded' }),
    bad: (i) => [
      [send('PATCH', `/api/v1/projects/${i.project}/secrets/${i.secret}`, { name: 7 }), 400, 'validation_failed'],
      garbled('PATCH', `/api/v1/projects/${i.project}/secrets/${i.secret}`),
      ...ids404('PATCH', (id) => `/api/v1/projects/${i.project}/secrets/${id}`, 'secret_not_found', { description: 'x' }),
    ],
  },
  {
    route: 'POST /projects/{id}/secrets/{secretId}/versions',
    permission: 'secret:write',
    call: (i) => send('POST', `/api/v1/projects/${i.project}/secrets/${i.secret}/versions`, { material: sharedSecret(), overlapSeconds: 60 }),
    bad: (i) => [
      [send('POST', `/api/v1/projects/${i.project}/secrets/${i.secret}/versions`, { material: sharedSecret(), overlapSeconds: -1 }), 400, 'validation_failed'],
      garbled('POST', `/api/v1/projects/${i.project}/secrets/${i.secret}/versions`),
      ...ids404('POST', (id) => `/api/v1/projects/${i.project}/secrets/${id}/versions`, 'secret_not_found', { material: sharedSecret(), overlapSeconds: 60 }),
    ],
  },
  {
    route: 'DELETE /projects/{id}/secrets/{secretId}',
    permission: 'secret:write',
    call: (i) => del(`/api/v1/projects/${i.project}/secrets/${i.secret}`),
    bad: (i) => ids404('DELETE', (id) => `/api/v1/projects/${i.project}/secrets/${id}`, 'secret_not_found'),
  },
  {
    route: 'GET /projects/{id}/client-registration',
    permission: 'project:read',
    call: (i) => get(`/api/v1/projects/${i.project}/client-registration`),
    bad: () => ids404('GET', (id) => `/api/v1/projects/${id}/client-registration`, 'project_not_found'),
  },
  {
    route: 'PUT /projects/{id}/client-registration',
    permission: 'project:write',
    call: (i) => send('PUT', `/api/v1/projects/${i.project}/client-registration`, { enabled: true }),
    bad: (i) => [
      [send('PUT', `/api/v1/projects/${i.project}/client-registration`, { enabled: 'yes' }), 400, 'validation_failed'],
      [send('PUT', `/api/v1/projects/${i.project}/client-registration`, { enabled: true, open: true }), 400, 'validation_failed'],
      [send('PUT', `/api/v1/projects/${i.project}/client-registration`, []), 400, 'body_required'],
      garbled('PUT', `/api/v1/projects/${i.project}/client-registration`),
      ...ids404('PUT', (id) => `/api/v1/projects/${id}/client-registration`, 'project_not_found', { enabled: true }),
    ],
  },
  {
    route: 'GET /projects/{id}/initial-access-tokens',
    permission: 'credential:read',
    call: (i) => get(`/api/v1/projects/${i.project}/initial-access-tokens`),
    bad: () => ids404('GET', (id) => `/api/v1/projects/${id}/initial-access-tokens`, 'project_not_found'),
  },
  {
    route: 'POST /projects/{id}/initial-access-tokens',
    permission: 'credential:write',
    call: (i) => send('POST', `/api/v1/projects/${i.project}/initial-access-tokens`, { singleUse: true }),
    bad: (i) => [
      [send('POST', `/api/v1/projects/${i.project}/initial-access-tokens`, { expiresInSeconds: 10 }), 400, 'validation_failed'],
      [send('POST', `/api/v1/projects/${i.project}/initial-access-tokens`, { expiresInSeconds: 31 * 86_400 }), 400, 'validation_failed'],
      [send('POST', `/api/v1/projects/${i.project}/initial-access-tokens`, { token: 'chosen' }), 400, 'validation_failed'],
      garbled('POST', `/api/v1/projects/${i.project}/initial-access-tokens`),
      ...ids404('POST', (id) => `/api/v1/projects/${id}/initial-access-tokens`, 'project_not_found', {}),
    ],
  },
  {
    route: 'DELETE /projects/{id}/initial-access-tokens/{tokenId}',
    permission: 'credential:write',
    call: (i) => del(`/api/v1/projects/${i.project}/initial-access-tokens/${UNKNOWN}`),
    bad: (i) => [
      ...ids404('DELETE', (id) => `/api/v1/projects/${i.project}/initial-access-tokens/${id}`, 'initial_access_token_not_found'),
      [del(`/api/v1/projects/${UNKNOWN}/initial-access-tokens/${UNKNOWN}`), 404, 'project_not_found'],
    ],
  },
  {
    route: 'GET /me/permissions',
    permission: null,
    call: (i) => get(`/api/v1/me/permissions?projectId=${i.project}`),
    bad: () => [
      [get('/api/v1/me/permissions?projectId=not-a-uuid'), 400, 'validation_failed'],
      [get(`/api/v1/me/permissions?teamId=${UNKNOWN}`), 400, 'validation_failed'],
    ],
  },
  {
    route: 'GET /policy-types',
    permission: null,
    call: () => get('/api/v1/policy-types'),
    bad: () => [],
  },
];

describe('route guards: the 403 naming the permission, bad input and 401 on every route added with #13-#18', () => {
  const s = randomBytes(3).toString('hex');
  let database: TestDatabase;
  let m: InProcessManager;
  const redis = new Redis(REDIS_URL);
  const ids = {} as Ids;
  /** For each permission a route needs: a session without it (and without its read or write siblings), holding every other permission at System scope. */
  const without = new Map<Permission, string>();
  const call = (c: Call, token?: string | null) =>
    m.request(c.method, c.path, c.body, { ...(token !== undefined && { token }), ...(c.rawBody !== undefined && { rawBody: c.rawBody }) });
  const created = async (c: Call): Promise<string> => {
    const res = await call(c);
    if (res.status !== 201) throw new Error(`${c.method} ${c.path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id;
  };

  beforeAll(async () => {
    database = await createTestDatabase('pglite');
    m = await startInProcessManager(database);
    ids.env = await created(send('POST', '/api/v1/environments', { name: `guards-${s}` }));
    ids.project = await created(send('POST', '/api/v1/projects', { name: `guards-${s}` }));
    ids.keyManager = await created(send('POST', '/api/v1/key-managers', keyManager(`guards-${s}`, ids.project)));
    ids.identitySource = await created(send('POST', '/api/v1/identity-sources', ldap(`guards-${s}`, ids.project)));
    ids.secret = await created(send('POST', `/api/v1/projects/${ids.project}/secrets`, { name: `guards-${s}`, kind: 'shared-secret', material: sharedSecret() }));
    ids.endUser = await created(send('POST', `/api/v1/projects/${ids.project}/users`, endUser(`guards-${s}`)));
    ids.plainCredential = await created(send('POST', `/api/v1/projects/${ids.project}/credentials`, { username: `guards-plain-${s}` }));
    ids.oidcClient = await created(send('POST', `/api/v1/projects/${ids.project}/credentials`, { username: `guards-rp-${s}` }));
    const rp = await call(
      send('PUT', `/api/v1/projects/${ids.project}/credentials/${ids.oidcClient}/token-settings`, {
        grants: ['authorization_code'],
        oidc: { redirectUris: ['https://rp.example.com/cb'], clientType: 'public', tokenEndpointAuthMethod: 'none' },
      }),
    );
    if (rp.status !== 200) throw new Error(`token settings: ${rp.status} ${JSON.stringify(rp.body)}`);
    // Two sessions (argon2 logins are slow on a loaded machine): one without the routes' read
    // permissions, one without their write permissions; each holds every other permission at System scope.
    const needed = [...new Set(ROUTES.map((r) => r.permission).filter((p): p is Permission => p !== null))];
    for (const [kind, lacking] of [
      ['reads', needed.filter((p) => p.endsWith(':read'))],
      ['writes', needed.filter((p) => !p.endsWith(':read'))],
    ] as const) {
      const name = `guards-no-${kind}-${s}`;
      const roleId = await created(send('POST', '/api/v1/roles', { name, permissions: PERMISSIONS.filter((p) => !lacking.includes(p)) }));
      const userId = await created(send('POST', '/api/v1/users', { username: name, password: 'guard-password-1' }));
      await created(send('POST', '/api/v1/role-bindings', { roleId, subject: { type: 'user', id: userId }, scope: { type: 'system', id: null } }));
      const login = await m.request('POST', '/api/v1/auth/login', { username: name, password: 'guard-password-1' }, { token: null });
      for (const permission of lacking) without.set(permission, login.body.token);
    }
  }, 600_000); // an in-process Manager took 70 s to boot under the load of 8 parallel agents, and 350 s at a load of 35

  afterAll(async () => {
    await m?.close();
    await new EnvironmentConfigStore(redis).remove(`guards-${s}`);
    redis.disconnect();
    await database?.drop();
  });

  it('refuses an operator without the route’s permission (holding the others) with 403 naming it, and changes nothing', async () => {
    const guarded = ROUTES.filter((r) => r.permission !== null);
    for (const r of guarded) {
      const res = await call(r.call(ids), without.get(r.permission!));
      expect({ route: r.route, status: res.status, type: res.headers['content-type'], body: res.body }).toMatchObject({
        route: r.route,
        status: 403,
        type: expect.stringContaining('application/problem+json'),
        body: { code: 'permission_denied', permission: r.permission },
      });
    }
    // Nothing the refused writes aimed at changed: the entities are still there and still enabled.
    for (const path of [
      `/api/v1/key-managers/${ids.keyManager}`,
      `/api/v1/identity-sources/${ids.identitySource}`,
      `/api/v1/projects/${ids.project}/secrets/${ids.secret}`,
      `/api/v1/projects/${ids.project}/users/${ids.endUser}`,
    ]) {
      expect({ path, status: (await m.request('GET', path)).status }).toEqual({ path, status: 200 });
    }
    expect((await m.request('GET', `/api/v1/projects/${ids.project}/brute-force-settings`)).body).toBeNull();
    expect((await m.request('GET', `/api/v1/projects/${ids.project}/client-registration`)).body).toEqual({ enabled: false });
    expect((await m.request('GET', `/api/v1/projects/${ids.project}/initial-access-tokens`)).body).toEqual([]);
    expect((await m.request('GET', `/api/v1/projects/${ids.project}/secrets/${ids.secret}`)).body.versions).toHaveLength(1);
  });

  it('answers the same calls for an operator holding the permission (the 403 above is the permission, not the call)', async () => {
    // Read-only calls only (writes would spend the fixtures); each guarded GET succeeds for the admin.
    for (const r of ROUTES.filter((x) => x.call(ids).method === 'GET' && !x.route.endsWith('/stream'))) {
      const res = await call(r.call(ids));
      expect({ route: r.route, status: res.status }).toEqual({ route: r.route, status: 200 });
    }
  });

  it('refuses bad input with a 4xx and its reason code, never a 500', async () => {
    for (const r of ROUTES) {
      for (const [c, status, code] of r.bad(ids)) {
        const res = await call(c);
        expect({ route: r.route, call: c, status: res.status, code: res.body?.code }).toEqual({ route: r.route, call: c, status, code });
      }
    }
  });

  it('refuses every route without a session (401), before reading input', async () => {
    for (const r of ROUTES) {
      const res = await call(r.call(ids), null);
      expect({ route: r.route, status: res.status }).toEqual({ route: r.route, status: 401 });
    }
  });
});
