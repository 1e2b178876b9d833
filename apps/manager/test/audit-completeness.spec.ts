import { oidcConsentKey } from '@idm/config-bus';
import { generateApiKey } from '@idm/domain';
import Redis from 'ioredis';
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { HANDOFF_COOKIE } from '../src/operator-sso/sso-cookies';
import { SsoLoginStore } from '../src/operator-sso/sso-login-store';
import { TestPki } from '@idm/test-kit';
import { seedBlocks } from './support/brute-force-blocks';
import { startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { SmtpInbox } from './support/smtp-inbox';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * Every mutating route in the OpenAPI document must write exactly one correct audit record per
 * call. Routes are enumerated from the document, so a route added without a recipe here (and
 * without audit) fails this suite.
 */
type Recipe = (f: Fixtures) => Promise<{ status: number; body: any }>;
interface Fixtures {
  m: InProcessManager;
  s: () => string;
  env: () => Promise<any>;
  project: () => Promise<any>;
  team: (projectId: string) => Promise<any>;
  proxy: (projectId: string) => Promise<any>;
  credential: (projectId: string) => Promise<any>;
  user: () => Promise<any>;
  group: () => Promise<any>;
  role: () => Promise<any>;
}

const P = '/api/v1';
/** An argon2id hash of "imported-password", as another system would hand it over. */
const IMPORTED_PASSWORD_HASH = '$argon2id$v=19$m=65536,p=4,t=3$efYkUdHymRUJA2bL3lZl8g$HEA7f1A/Nr4FVoCMHck59hRAbDEp0FBfKzLIjfTte14';
const RECIPES: Record<string, { action: string; run: Recipe }> = {
  [`post ${P}/auth/login`]: {
    action: 'session.create',
    run: ({ m }) => m.request('POST', `${P}/auth/login`, { username: 'admin', password: 'correct-horse-battery' }, { token: null }),
  },
  [`post ${P}/auth/logout`]: {
    action: 'session.delete',
    run: async ({ m }) => {
      const { token } = (await m.request('POST', `${P}/auth/login`, { username: 'admin', password: 'correct-horse-battery' }, { token: null })).body;
      await clearMarker(m);
      return m.request('POST', `${P}/auth/logout`, undefined, { token });
    },
  },
  [`post ${P}/auth/sso/session`]: {
    action: 'session.create',
    run: async ({ m }) => {
      // The handoff an IdP callback leaves (operator-sso-oidc.spec drives the whole flow): collecting it opens the session.
      const admin = (await m.request('GET', `${P}/users`)).body.find((u: any) => u.username === 'admin');
      const key = randomBytes(32).toString('base64url');
      await m.app.get(SsoLoginStore).saveHandoff(key, { outcome: 'signed-in', operator: { id: admin.id, username: 'admin' }, source: 'corp' }, 60);
      return m.request('POST', `${P}/auth/sso/session`, undefined, { token: null, headers: { cookie: `${HANDOFF_COOKIE}=${key}` } });
    },
  },
  [`delete ${P}/auth/lockouts`]: { action: 'login-lockout.unlock', run: ({ m }) => m.request('DELETE', `${P}/auth/lockouts?address=192.0.2.44&username=admin`) },
  [`post ${P}/environments`]: { action: 'environment.create', run: ({ m, s }) => m.request('POST', `${P}/environments`, { name: `e-${s()}` }) },
  [`patch ${P}/environments/{environmentId}`]: {
    action: 'environment.update',
    run: async (f) => f.m.request('PATCH', `${P}/environments/${(await f.env()).id}`, { description: 'x' }),
  },
  [`delete ${P}/environments/{environmentId}`]: { action: 'environment.delete', run: async (f) => f.m.request('DELETE', `${P}/environments/${(await f.env()).id}`) },
  [`delete ${P}/environments/{environmentId}/blocks/{blockId}`]: {
    action: 'brute-force-block.lift',
    run: async (f) => {
      const env = await f.env();
      const [block] = await seedBlocks(env.name, { credential: null, address: '192.0.2.77' });
      return f.m.request('DELETE', `${P}/environments/${env.id}/blocks/${block.id}`);
    },
  },
  [`post ${P}/environments/{environmentId}/signing-keys`]: {
    action: 'signing_key.create',
    run: async (f) => f.m.request('POST', `${P}/environments/${(await f.env()).id}/signing-keys`, { algorithm: 'ES256' }),
  },
  [`post ${P}/environments/{environmentId}/signing-keys/rotate`]: {
    action: 'signing_key.rotate',
    run: async (f) => {
      const env = await f.env();
      await f.m.request('POST', `${P}/environments/${env.id}/signing-keys`, { algorithm: 'EdDSA' });
      await clearMarker(f.m);
      return f.m.request('POST', `${P}/environments/${env.id}/signing-keys/rotate`, { algorithm: 'EdDSA' });
    },
  },
  [`post ${P}/projects`]: { action: 'project.create', run: ({ m, s }) => m.request('POST', `${P}/projects`, { name: `p-${s()}` }) },
  [`patch ${P}/projects/{projectId}`]: { action: 'project.update', run: async (f) => f.m.request('PATCH', `${P}/projects/${(await f.project()).id}`, { description: 'x' }) },
  [`delete ${P}/projects/{projectId}`]: { action: 'project.delete', run: async (f) => f.m.request('DELETE', `${P}/projects/${(await f.project()).id}`) },
  [`post ${P}/projects/{projectId}/teams`]: {
    action: 'team.create',
    run: async (f) => f.m.request('POST', `${P}/projects/${(await f.project()).id}/teams`, { name: `t-${f.s()}` }),
  },
  [`patch ${P}/projects/{projectId}/teams/{teamId}`]: {
    action: 'team.update',
    run: async (f) => {
      const p = await f.project();
      return f.m.request('PATCH', `${P}/projects/${p.id}/teams/${(await f.team(p.id)).id}`, { description: 'x' });
    },
  },
  [`delete ${P}/projects/{projectId}/teams/{teamId}`]: {
    action: 'team.delete',
    run: async (f) => {
      const p = await f.project();
      return f.m.request('DELETE', `${P}/projects/${p.id}/teams/${(await f.team(p.id)).id}`);
    },
  },
  [`post ${P}/projects/{projectId}/secrets`]: {
    action: 'project_secret.create',
    run: async (f) => f.m.request('POST', `${P}/projects/${(await f.project()).id}/secrets`, { name: `s-${f.s()}`, kind: 'shared-secret', material: SHARED_SECRET }),
  },
  [`patch ${P}/projects/{projectId}/secrets/{secretId}`]: {
    action: 'project_secret.update',
    run: async (f) => {
      const { p, secret } = await projectSecret(f);
      return f.m.request('PATCH', `${P}/projects/${p.id}/secrets/${secret.id}`, { description: 'x' });
    },
  },
  [`post ${P}/projects/{projectId}/secrets/{secretId}/versions`]: {
    action: 'project_secret.rotate',
    run: async (f) => {
      const { p, secret } = await projectSecret(f);
      return f.m.request('POST', `${P}/projects/${p.id}/secrets/${secret.id}/versions`, { material: randomBytes(32).toString('base64url') });
    },
  },
  [`delete ${P}/projects/{projectId}/secrets/{secretId}`]: {
    action: 'project_secret.delete',
    run: async (f) => {
      const { p, secret } = await projectSecret(f);
      return f.m.request('DELETE', `${P}/projects/${p.id}/secrets/${secret.id}`);
    },
  },
  [`post ${P}/key-managers`]: {
    action: 'key_manager.create',
    run: async (f) => f.m.request('POST', `${P}/key-managers`, externalKeyManager(f.s())),
  },
  [`patch ${P}/key-managers/{keyManagerId}`]: {
    action: 'key_manager.update',
    run: async (f) => f.m.request('PATCH', `${P}/key-managers/${(await keyManager(f)).id}`, { audiences: ['orders'] }),
  },
  [`delete ${P}/key-managers/{keyManagerId}`]: {
    action: 'key_manager.delete',
    run: async (f) => f.m.request('DELETE', `${P}/key-managers/${(await keyManager(f)).id}`),
  },
  [`post ${P}/identity-sources`]: {
    action: 'identity_source.create',
    run: async (f) => f.m.request('POST', `${P}/identity-sources`, ldapIdentitySource(f.s())),
  },
  [`patch ${P}/identity-sources/{identitySourceId}`]: {
    action: 'identity_source.update',
    run: async (f) => f.m.request('PATCH', `${P}/identity-sources/${(await identitySource(f)).id}`, { secret: 'new-bind-password' }),
  },
  [`post ${P}/identity-sources/{identitySourceId}/sync`]: {
    action: 'identity_source.sync',
    run: async (f) => {
      // A search-bind source with sync settings and nobody provisioned yet: the run asks the directory nothing.
      const created = (
        await f.m.request('POST', `${P}/identity-sources`, {
          name: `ids-sync-${f.s()}`,
          type: 'ldap',
          config: { url: 'ldap://ldap.example.org', bind: { mode: 'search', bindDn: 'uid=svc,dc=example,dc=org', baseDn: 'ou=people,dc=example,dc=org' } },
          secret: 'bind-password',
          sync: { enabled: false },
        })
      ).body;
      await clearMarker(f.m);
      return f.m.request('POST', `${P}/identity-sources/${created.id}/sync`);
    },
  },
  [`post ${P}/identity-sources/{identitySourceId}/saml-metadata`]: {
    action: 'identity_source.update',
    run: async (f) => {
      const pki = await TestPki.create();
      let cert: string;
      try {
        cert = (await pki.issue('idp', { subject: '/CN=audit-idp', rsa: true })).cert;
      } finally {
        await pki.remove();
      }
      const body = cert.replace(/-----[^-]+-----|\s+/g, '');
      const created = (
        await f.m.request('POST', `${P}/identity-sources`, {
          name: `ids-saml-${f.s()}`,
          type: 'saml',
          config: { idpEntityId: 'urn:placeholder', ssoUrl: 'https://idp.invalid/sso', idpCertificates: [cert] },
        })
      ).body;
      await clearMarker(f.m);
      const metadataXml =
        `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example.com/saml">` +
        `<md:IdPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
        `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/></md:IdPSSODescriptor></md:EntityDescriptor>`;
      return f.m.request('POST', `${P}/identity-sources/${created.id}/saml-metadata`, { metadataXml });
    },
  },
  [`delete ${P}/identity-sources/{identitySourceId}`]: {
    action: 'identity_source.delete',
    run: async (f) => f.m.request('DELETE', `${P}/identity-sources/${(await identitySource(f)).id}`),
  },
  [`post ${P}/projects/{projectId}/proxies`]: {
    action: 'api_proxy.create',
    run: async (f) =>
      f.m.request('POST', `${P}/projects/${(await f.project()).id}/proxies`, {
        name: 'x',
        basePath: `/x-${f.s()}`,
        upstreamUrl: 'http://127.0.0.1:9',
        environments: [(await f.env()).name],
      }),
  },
  [`patch ${P}/projects/{projectId}/proxies/{proxyId}`]: {
    action: 'api_proxy.update',
    run: async (f) => {
      const p = await f.project();
      return f.m.request('PATCH', `${P}/projects/${p.id}/proxies/${(await f.proxy(p.id)).id}`, { methods: ['GET'], environments: [(await f.env()).name] });
    },
  },
  [`delete ${P}/projects/{projectId}/proxies/{proxyId}`]: {
    action: 'api_proxy.delete',
    run: async (f) => {
      const p = await f.project();
      return f.m.request('DELETE', `${P}/projects/${p.id}/proxies/${(await f.proxy(p.id)).id}`);
    },
  },
  [`post ${P}/projects/{projectId}/credentials`]: {
    action: 'credential.create',
    run: async (f) => f.m.request('POST', `${P}/projects/${(await f.project()).id}/credentials`, { username: 'u', password: 'some-password' }),
  },
  [`post ${P}/projects/{projectId}/credentials/import`]: {
    action: 'credential.import',
    run: async (f) =>
      f.m.request('POST', `${P}/projects/${(await f.project()).id}/credentials/import`, {
        credentials: [
          { username: 'imported-a', apiKeys: [generateApiKey().key] },
          { username: 'imported-b', passwordHash: IMPORTED_PASSWORD_HASH },
        ],
      }),
  },
  [`patch ${P}/projects/{projectId}/credentials/{credentialId}`]: {
    action: 'credential.update',
    run: async (f) => {
      const p = await f.project();
      return f.m.request('PATCH', `${P}/projects/${p.id}/credentials/${(await f.credential(p.id)).id}`, { enabled: false, password: 'new-password-1' });
    },
  },
  [`delete ${P}/projects/{projectId}/credentials/{credentialId}`]: {
    action: 'credential.delete',
    run: async (f) => {
      const p = await f.project();
      return f.m.request('DELETE', `${P}/projects/${p.id}/credentials/${(await f.credential(p.id)).id}`);
    },
  },
  [`post ${P}/projects/{projectId}/credentials/{credentialId}/api-keys`]: {
    action: 'api_key.create',
    run: async (f) => {
      const p = await f.project();
      return f.m.request('POST', `${P}/projects/${p.id}/credentials/${(await f.credential(p.id)).id}/api-keys`, {});
    },
  },
  [`post ${P}/projects/{projectId}/credentials/{credentialId}/api-keys/{apiKeyId}/rotate`]: {
    action: 'api_key.rotate',
    run: async (f) => {
      const p = await f.project();
      const c = await f.credential(p.id);
      return f.m.request('POST', `${P}/projects/${p.id}/credentials/${c.id}/api-keys/${c.apiKeys[0].id}/rotate`, { graceSeconds: 60 });
    },
  },
  [`delete ${P}/projects/{projectId}/credentials/{credentialId}/api-keys/{apiKeyId}`]: {
    action: 'api_key.delete',
    run: async (f) => {
      const p = await f.project();
      const c = await f.credential(p.id);
      return f.m.request('DELETE', `${P}/projects/${p.id}/credentials/${c.id}/api-keys/${c.apiKeys[0].id}`);
    },
  },
  [`post ${P}/apiops/apply`]: {
    action: 'project.create',
    run: ({ m, s }) => m.request('POST', `${P}/apiops/apply`, { bundle: { apiVersion: 'idm/v1', kind: 'ProjectBundle', project: { name: `b-${s()}` } } }),
  },
  [`post ${P}/self-service/credential-requests`]: {
    action: 'credential_request.create',
    run: async (f) => f.m.request('POST', `${P}/self-service/credential-requests`, { proxyId: (await selfServiceProxy(f, 'auto')).id, username: `app-${f.s()}` }, { token: null }),
  },
  [`post ${P}/self-service/api-keys/rotate`]: {
    action: 'api_key.rotate',
    run: async (f) => {
      const p = await f.project();
      const c = await f.credential(p.id);
      return f.m.request('POST', `${P}/self-service/api-keys/rotate`, { graceSeconds: 10 }, { token: null, headers: { 'x-api-key': c.apiKey.key } });
    },
  },
  [`post ${P}/projects/{projectId}/credential-requests/{requestId}/approve`]: {
    action: 'credential_request.approve',
    run: async (f) => {
      const proxy = await selfServiceProxy(f, 'manual');
      const request = (await f.m.request('POST', `${P}/self-service/credential-requests`, { proxyId: proxy.id, username: `app-${f.s()}` }, { token: null })).body;
      await clearMarker(f.m);
      return f.m.request('POST', `${P}/projects/${proxy.projectId}/credential-requests/${request.id}/approve`);
    },
  },
  [`post ${P}/projects/{projectId}/credential-requests/{requestId}/reject`]: {
    action: 'credential_request.reject',
    run: async (f) => {
      const proxy = await selfServiceProxy(f, 'manual');
      const request = (await f.m.request('POST', `${P}/self-service/credential-requests`, { proxyId: proxy.id, username: `app-${f.s()}` }, { token: null })).body;
      await clearMarker(f.m);
      return f.m.request('POST', `${P}/projects/${proxy.projectId}/credential-requests/${request.id}/reject`);
    },
  },
  [`post ${P}/projects/{projectId}/users`]: {
    action: 'end_user.create',
    run: async (f) =>
      f.m.request('POST', `${P}/projects/${(await f.project()).id}/users`, { username: `eu-${f.s()}`, email: `eu-${f.s()}@example.com`, password: 'end-user-password' }),
  },
  [`patch ${P}/projects/{projectId}/users/{userId}`]: {
    action: 'end_user.update',
    run: async (f) => {
      const { p, user } = await endUser(f);
      return f.m.request('PATCH', `${P}/projects/${p.id}/users/${user.id}`, { locked: true, password: 'another-password' });
    },
  },
  [`delete ${P}/projects/{projectId}/users/{userId}`]: {
    action: 'end_user.delete',
    run: async (f) => {
      const { p, user } = await endUser(f);
      return f.m.request('DELETE', `${P}/projects/${p.id}/users/${user.id}`);
    },
  },
  [`post ${P}/projects/{projectId}/users/{userId}/verification-mail`]: {
    action: 'end_user_mail.verify_email',
    run: async (f) => {
      const { p, user } = await endUser(f);
      return f.m.request('POST', `${P}/projects/${p.id}/users/${user.id}/verification-mail`);
    },
  },
  [`post ${P}/projects/{projectId}/users/{userId}/password-reset-mail`]: {
    action: 'end_user_mail.reset_password',
    run: async (f) => {
      const { p, user } = await endUser(f);
      return f.m.request('POST', `${P}/projects/${p.id}/users/${user.id}/password-reset-mail`);
    },
  },
  [`put ${P}/projects/{projectId}/end-user-registration`]: {
    action: 'end_user_registration.create',
    run: async (f) => f.m.request('PUT', `${P}/projects/${(await f.project()).id}/end-user-registration`, { selfRegistration: true }),
  },
  [`delete ${P}/projects/{projectId}/users/{userId}/consents/{clientId}`]: {
    action: 'end_user_consent.revoke',
    run: async (f) => {
      const { p, user } = await endUser(f);
      const env = await f.env();
      const clientId = randomUUID();
      // As a Gateway's consent page leaves it.
      const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
      await redis.hset(oidcConsentKey(env.name, user.id), clientId, 'openid').finally(() => redis.disconnect());
      return f.m.request('DELETE', `${P}/projects/${p.id}/users/${user.id}/consents/${clientId}`);
    },
  },
  [`put ${P}/projects/{projectId}/credentials/{credentialId}/token-settings`]: {
    action: 'credential_token_settings.update',
    run: async (f) => {
      const p = await f.project();
      const c = await f.credential(p.id);
      const put = (body: unknown) => f.m.request('PUT', `${P}/projects/${p.id}/credentials/${c.id}/token-settings`, body);
      // The first PUT creates them (audited as create, see token-settings-apiops.spec); this one changes them.
      await put({ grants: ['client_credentials'] });
      await clearMarker(f.m);
      return put({ grants: ['client_credentials', 'password'], refreshAllowed: true });
    },
  },
  [`delete ${P}/projects/{projectId}/credentials/{credentialId}/token-settings`]: {
    action: 'credential_token_settings.delete',
    run: async (f) => {
      const p = await f.project();
      const c = await f.credential(p.id);
      await f.m.request('PUT', `${P}/projects/${p.id}/credentials/${c.id}/token-settings`, {});
      await clearMarker(f.m);
      return f.m.request('DELETE', `${P}/projects/${p.id}/credentials/${c.id}/token-settings`);
    },
  },
  [`put ${P}/projects/{projectId}/brute-force-settings`]: {
    action: 'brute_force_settings.create',
    run: async (f) => f.m.request('PUT', `${P}/projects/${(await f.project()).id}/brute-force-settings`, { perCredential: 5, windowSeconds: 600 }),
  },
  [`delete ${P}/projects/{projectId}/brute-force-settings`]: {
    action: 'brute_force_settings.delete',
    run: async (f) => {
      const p = await f.project();
      await f.m.request('PUT', `${P}/projects/${p.id}/brute-force-settings`, { perCredential: 5 });
      await clearMarker(f.m);
      return f.m.request('DELETE', `${P}/projects/${p.id}/brute-force-settings`);
    },
  },
  [`put ${P}/projects/{projectId}/client-registration`]: {
    action: 'client_registration_settings.update',
    run: async (f) => f.m.request('PUT', `${P}/projects/${(await f.project()).id}/client-registration`, { enabled: true }),
  },
  [`post ${P}/projects/{projectId}/initial-access-tokens`]: {
    action: 'initial_access_token.create',
    run: async (f) => f.m.request('POST', `${P}/projects/${(await f.project()).id}/initial-access-tokens`, { singleUse: true }),
  },
  [`delete ${P}/projects/{projectId}/initial-access-tokens/{tokenId}`]: {
    action: 'initial_access_token.delete',
    run: async (f) => {
      const p = await f.project();
      const created = await f.m.request('POST', `${P}/projects/${p.id}/initial-access-tokens`, {});
      await clearMarker(f.m);
      return f.m.request('DELETE', `${P}/projects/${p.id}/initial-access-tokens/${created.body.id}`);
    },
  },
  [`post ${P}/users`]: { action: 'user.create', run: ({ m, s }) => m.request('POST', `${P}/users`, { username: `u${s()}`, password: 'user-password-1' }) },
  [`patch ${P}/users/{userId}`]: { action: 'user.update', run: async (f) => f.m.request('PATCH', `${P}/users/${(await f.user()).id}`, { password: 'user-password-2' }) },
  [`delete ${P}/users/{userId}`]: { action: 'user.delete', run: async (f) => f.m.request('DELETE', `${P}/users/${(await f.user()).id}`) },
  [`put ${P}/me/password`]: {
    action: 'user.update',
    run: async ({ m }) => {
      const res = await m.request('PUT', `${P}/me/password`, { currentPassword: 'correct-horse-battery', newPassword: 'correct-horse-battery' });
      return res;
    },
  },
  [`post ${P}/groups`]: { action: 'group.create', run: ({ m, s }) => m.request('POST', `${P}/groups`, { name: `g-${s()}` }) },
  [`delete ${P}/groups/{groupId}`]: { action: 'group.delete', run: async (f) => f.m.request('DELETE', `${P}/groups/${(await f.group()).id}`) },
  [`post ${P}/groups/{groupId}/members`]: {
    action: 'group.update',
    run: async (f) => f.m.request('POST', `${P}/groups/${(await f.group()).id}/members`, { userId: (await f.user()).id }),
  },
  [`delete ${P}/groups/{groupId}/members/{userId}`]: {
    action: 'group.update',
    run: async (f) => {
      const g = await f.group();
      const u = await f.user();
      await f.m.request('POST', `${P}/groups/${g.id}/members`, { userId: u.id });
      await clearMarker(f.m);
      return f.m.request('DELETE', `${P}/groups/${g.id}/members/${u.id}`);
    },
  },
  [`post ${P}/roles`]: { action: 'role.create', run: ({ m, s }) => m.request('POST', `${P}/roles`, { name: `r-${s()}`, permissions: ['proxy:read'] }) },
  [`patch ${P}/roles/{roleId}`]: {
    action: 'role.update',
    run: async (f) => f.m.request('PATCH', `${P}/roles/${(await f.role()).id}`, { permissions: ['proxy:read', 'proxy:write'] }),
  },
  [`delete ${P}/roles/{roleId}`]: { action: 'role.delete', run: async (f) => f.m.request('DELETE', `${P}/roles/${(await f.role()).id}`) },
  [`post ${P}/role-bindings`]: {
    action: 'role_binding.create',
    run: async (f) =>
      f.m.request('POST', `${P}/role-bindings`, {
        roleId: (await f.role()).id,
        subject: { type: 'user', id: (await f.user()).id },
        scope: { type: 'project', id: (await f.project()).id },
      }),
  },
  [`delete ${P}/role-bindings/{bindingId}`]: {
    action: 'role_binding.delete',
    run: async (f) => {
      const b = (
        await f.m.request('POST', `${P}/role-bindings`, { roleId: (await f.role()).id, subject: { type: 'user', id: (await f.user()).id }, scope: { type: 'system', id: null } })
      ).body;
      await clearMarker(f.m);
      return f.m.request('DELETE', `${P}/role-bindings/${b.id}`);
    },
  },
};

const SHARED_SECRET = randomBytes(32).toString('base64url');

const externalKeyManager = (suffix: string) => ({
  name: `km-${suffix}`,
  issuer: `https://km-${suffix}.example.com/realms/main`,
  discoveryUrl: `https://km-${suffix}.example.com/realms/main/.well-known/openid-configuration`,
});

const ldapIdentitySource = (suffix: string) => ({
  name: `ids-${suffix}`,
  type: 'ldap',
  config: { url: 'ldap://ldap.example.org', bind: { mode: 'direct', dnTemplate: 'uid={username},ou=people,dc=example,dc=org' } },
});

async function identitySource(f: Fixtures) {
  const created = (await f.m.request('POST', `${P}/identity-sources`, ldapIdentitySource(f.s()))).body;
  await clearMarker(f.m);
  return created;
}

async function keyManager(f: Fixtures) {
  const created = (await f.m.request('POST', `${P}/key-managers`, externalKeyManager(f.s()))).body;
  await clearMarker(f.m);
  return created;
}

async function endUser(f: Fixtures) {
  const p = await f.project();
  const user = (await f.m.request('POST', `${P}/projects/${p.id}/users`, { username: `eu-${f.s()}`, email: `eu-${f.s()}@example.com` })).body;
  await clearMarker(f.m);
  return { p, user };
}

async function projectSecret(f: Fixtures) {
  const p = await f.project();
  const secret = (await f.m.request('POST', `${P}/projects/${p.id}/secrets`, { name: `s-${f.s()}`, kind: 'shared-secret', material: SHARED_SECRET })).body;
  await clearMarker(f.m);
  return { p, secret };
}

async function selfServiceProxy(f: Fixtures, selfService: 'auto' | 'manual') {
  const p = await f.project();
  const proxy = (await f.m.request('POST', `${P}/projects/${p.id}/proxies`, { name: `ss-${f.s()}`, basePath: `/ss-${f.s()}`, upstreamUrl: 'http://127.0.0.1:9', selfService }))
    .body;
  await clearMarker(f.m);
  return proxy;
}

let marker = 0;
/**
 * Records of the Manager's own background work (the signing-key sweeper retiring a key) may land
 * between a recipe's marker and its call; they are audited as the system, never as the caller.
 */
const byBackgroundJob = (event: { actor: { type: string } }) => event.actor.type === 'system';

/** Remembers the newest audit sequence number so a recipe's own setup calls are not counted. */
async function clearMarker(m: InProcessManager): Promise<void> {
  const page = await m.request('GET', `${P}/audit?limit=1`);
  marker = page.body.items[0]?.seq ?? 0;
}

describe('audit completeness', () => {
  let database: TestDatabase;
  let m: InProcessManager;
  let f: Fixtures;
  let inbox: SmtpInbox;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    // End users' mails (verification, reset) go to the test's own SMTP server.
    inbox = await SmtpInbox.start();
    m = await startInProcessManager(database, { SMTP_URL: inbox.url, END_USER_PAGES_URL: 'https://gw.example.com/credential' });
    const s = () => randomBytes(4).toString('hex');
    const post = async (url: string, body: unknown) => (await m.request('POST', url, body)).body;
    f = {
      m,
      s,
      env: () => post(`${P}/environments`, { name: `e-${s()}` }),
      project: () => post(`${P}/projects`, { name: `p-${s()}` }),
      team: (projectId) => post(`${P}/projects/${projectId}/teams`, { name: `t-${s()}` }),
      proxy: (projectId) => post(`${P}/projects/${projectId}/proxies`, { name: `x-${s()}`, basePath: `/x-${s()}`, upstreamUrl: 'http://127.0.0.1:9' }),
      credential: (projectId) => post(`${P}/projects/${projectId}/credentials`, { username: `c-${s()}`, password: 'some-password' }),
      user: () => post(`${P}/users`, { username: `u${s()}`, password: 'user-password-1' }),
      group: () => post(`${P}/groups`, { name: `g-${s()}` }),
      role: () => post(`${P}/roles`, { name: `r-${s()}`, permissions: ['proxy:read'] }),
    };
  }, 60000);

  afterAll(async () => {
    await m?.close();
    await database?.drop();
    await inbox?.stop();
  });

  it('has a recipe for every mutating route in the OpenAPI document', async () => {
    const doc = (await m.request('GET', `${P}/openapi.json`, undefined, { token: null })).body;
    const mutating = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([method, op]) => ['post', 'put', 'patch', 'delete'].includes(method) && !(op as { 'x-read-only'?: boolean })['x-read-only'])
        .map(([method]) => `${method} ${path}`),
    );
    expect(mutating.length).toBeGreaterThan(20);
    expect(mutating.filter((route) => !RECIPES[route])).toEqual([]);
  });

  it.each(Object.entries(RECIPES))('%s writes exactly one audit record', async (_route, recipe) => {
    // Fixture creation happens inside the recipe, so count from just before the call itself:
    // recipes that need setup call clearMarker after it; others are measured from here.
    await clearMarker(m);
    const wrapped = { ...f, ...wrapFixtures(f) };
    const res = await recipe.run(wrapped);
    expect([200, 201, 204]).toContain(res.status);
    const page = await m.request('GET', `${P}/audit?limit=50`);
    const fresh = page.body.items.filter((e: any) => e.seq > marker && !byBackgroundJob(e));
    expect(fresh.map((e: any) => e.action)).toEqual([recipe.action]);
    const [event] = fresh;
    expect(event.actor).toMatchObject({ type: 'user', source: _route.includes('/apiops/') ? 'apiops' : 'rest' });
    if (_route.includes('/self-service/')) expect(event.actor.name).toMatch(/^application:/);
    expect(event.actor.correlationId).toBeTruthy();
    expect(JSON.stringify(event.diff)).not.toMatch(/argon2id|correct-horse|user-password|some-password|new-password/);
  });

  it('writes no audit record for a change that fails', async () => {
    await clearMarker(m);
    const bad = await m.request('POST', `${P}/projects/${(await f.project()).id}/proxies`, { name: 'x', basePath: '/auth', upstreamUrl: 'http://127.0.0.1:9' });
    expect(bad.status).toBe(400);
    const page = await m.request('GET', `${P}/audit?limit=50`);
    expect(page.body.items.filter((e: any) => e.seq > marker && !byBackgroundJob(e)).map((e: any) => e.action)).toEqual(['project.create']);
  });

  it('paginates and filters the audit trail and masks secrets in the stored diff', async () => {
    const p = await f.project();
    const c = await f.credential(p.id);
    await m.request('PATCH', `${P}/projects/${p.id}/credentials/${c.id}`, { password: 'rotated-password-9' });
    const filtered = await m.request('GET', `${P}/audit?entityId=${c.id}&limit=1`);
    expect(filtered.body.items).toHaveLength(1);
    expect(filtered.body.items[0].action).toBe('credential.update');
    expect(filtered.body.items[0].diff.passwordHash).toEqual({ changed: true, secret: true });
    const next = await m.request('GET', `${P}/audit?entityId=${c.id}&limit=1&cursor=${filtered.body.nextCursor}`);
    expect(next.body.items[0].action).toBe('credential.create');
    expect(next.body.nextCursor).toBeNull();
    const bad = await m.request('GET', `${P}/audit?limit=0`);
    expect(bad.status).toBe(400);
    const client = new Client({ connectionString: database.url });
    await client.connect();
    const rows = (await client.query('SELECT diff::text AS diff FROM audit_events')).rows.map((r) => r.diff).join('\n');
    await client.end();
    expect(rows).not.toMatch(/rotated-password-9|\$argon2id/);
  });
});

/** Fixture calls made by a recipe happen before its measured call: move the marker after each. */
function wrapFixtures(f: Fixtures): Partial<Fixtures> {
  const wrap =
    <A extends unknown[]>(fn: (...args: A) => Promise<any>) =>
    async (...args: A) => {
      const value = await fn(...args);
      await clearMarker(f.m);
      return value;
    };
  return {
    env: wrap(f.env),
    project: wrap(f.project),
    team: wrap(f.team),
    proxy: wrap(f.proxy),
    credential: wrap(f.credential),
    user: wrap(f.user),
    group: wrap(f.group),
    role: wrap(f.role),
  };
}
