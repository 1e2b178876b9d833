import { GatewayPresenceStore, oidcConsentKey } from '@idm/config-bus';
import { generateApiKey } from '@idm/domain';
import Redis from 'ioredis';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import * as argon2 from 'argon2';
import { createHash, randomBytes } from 'node:crypto';
import { TestPki } from '@idm/test-kit';
import { seedBlocks } from './support/brute-force-blocks';
import { ADMIN, startInProcessManager, type InProcessManager } from './support/in-process-manager';
import { SmtpInbox } from './support/smtp-inbox';
import { createTestDatabase, type TestDatabase } from './support/test-database';

/**
 * The OpenAPI document is what generated clients and contract testers (Schemathesis) rely on, so
 * every operation of the admin API is called once against a real Manager on PostgreSQL and its
 * real answer (status, content type, body) is validated against the document's schema for it.
 * An operation added without being driven here, or a response that drifts from its schema, fails.
 */
const P = '/api/v1';

interface Observed {
  operation: string;
  /** The JSON request body sent, if any. */
  request?: unknown;
  status: number;
  contentType: string;
  body: unknown;
}

type Content = Record<string, { schema?: object }>;
type Operation = { requestBody?: { content: Content }; responses: Record<string, { content?: Content }> };

describe('OpenAPI document against real responses', () => {
  let database: TestDatabase;
  let m: InProcessManager;
  let inbox: SmtpInbox;
  let document: { servers?: unknown[]; paths: Record<string, Record<string, Operation>> };
  const ajv = new Ajv2020({ allErrors: true, validateFormats: false, allowUnionTypes: true });
  const validators = new Map<object, ValidateFunction>();
  /** Validates with the schema compiled once; the errors as text, or undefined when valid. */
  const violation = (schema: object, value: unknown): string | undefined => {
    let validate = validators.get(schema);
    if (!validate) validators.set(schema, (validate = ajv.compile(schema)));
    return validate(value) ? undefined : ajv.errorsText(validate.errors);
  };
  const requestSchema = (method: string, path: string) => document.paths[path][method].requestBody!.content['application/json'].schema!;
  const observed: Observed[] = [];
  const s = () => randomBytes(4).toString('hex');

  /** The document's operation (`get /api/v1/projects/{projectId}`) a concrete request path belongs to. */
  const operationOf = (method: string, url: string): string => {
    const path = url.split('?')[0];
    const template = Object.keys(document.paths).find((t) => new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path) && document.paths[t][method]);
    if (!template) throw new Error(`${method} ${path} is not in the OpenAPI document`);
    return `${method} ${template}`;
  };

  /** Calls the Manager and records the answer for validation; a failure stops the scenario at its cause. */
  const call = async (method: string, url: string, body?: unknown, options: Parameters<InProcessManager['request']>[3] = {}) => {
    const res = await m.request(method, url, body, options);
    if (res.status >= 300) throw new Error(`${method} ${url} -> ${res.status} ${JSON.stringify(res.body)}`);
    observed.push({
      operation: operationOf(method.toLowerCase(), url),
      request: body,
      status: res.status,
      contentType: String((res.headers['content-type'] as string | undefined) ?? ''),
      body: res.body,
    });
    return res.body;
  };

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    inbox = await SmtpInbox.start();
    m = await startInProcessManager(database, { SMTP_URL: inbox.url, END_USER_PAGES_URL: 'https://gw.example.com/credential' });
    document = (await m.request('GET', `${P}/openapi.json`, undefined, { token: null })).body;
    await driveEveryOperation();
  });

  afterAll(async () => {
    await m?.close();
    await database?.drop();
    await inbox?.stop();
  });

  /**
   * Operator SSO: the sources, a start and a callback (browser navigations: both answer 302 to
   * the console, here for a source that does not exist), and the console's collection of a
   * signed-in handoff (seeded in Redis as the callback leaves it: driving a real IdP is
   * operator-sso-oidc.spec's).
   */
  async function driveOperatorSso() {
    await call('GET', `${P}/auth/sso`, undefined, { token: null });
    for (const url of [`${P}/auth/sso/no-such-source/start`, `${P}/auth/sso/no-such-source/callback?state=forged`, `${P}/auth/sso/no-such-source/continue?handle=forged`]) {
      const res = await m.request('GET', url, undefined, { token: null });
      expect(res.status).toBe(302);
      observed.push({ operation: operationOf('get', url), status: res.status, contentType: String((res.headers['content-type'] as string | undefined) ?? ''), body: undefined });
    }
    // The SAML ACS, as an IdP's form posts it (a RelayState we never issued: refused, and sent to the console like every outcome).
    const acs = `${P}/auth/sso/no-such-source/acs`;
    const posted = await m.request('POST', acs, undefined, {
      token: null,
      rawBody: new URLSearchParams({ SAMLResponse: 'PHg+', RelayState: 'forged' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(posted.status).toBe(302);
    observed.push({
      operation: operationOf('post', acs),
      status: posted.status,
      contentType: String((posted.headers['content-type'] as string | undefined) ?? ''),
      body: undefined,
    });
    // The SP metadata of a saml operator source (the certificate is only parsed, never used here).
    const pki = await TestPki.create();
    const cert = { pki, c: await pki.issue('idp', { subject: '/CN=conformance-idp', rsa: true }) };
    const saml = await call('POST', `${P}/identity-sources`, {
      name: `saml-${s()}`,
      type: 'saml',
      config: { idpEntityId: 'https://idp.example', ssoUrl: 'https://idp.example/sso', idpCertificates: [cert.c.cert] },
      operatorLogin: { enabled: true, groupBindings: [{ group: 'staff', role: 'project-viewer', scope: 'system' }] },
    });
    await cert.pki.remove();
    await call('GET', `${P}/auth/sso/${saml.name}/metadata`, undefined, { token: null });
    // The IdP's metadata imported into it (the same certificate, another SSO URL).
    const metadataXml =
      `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example">` +
      `<md:IdPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${cert.c.cert.replace(/-----[^-]+-----|\s+/g, '')}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
      `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso/redirect"/></md:IdPSSODescriptor></md:EntityDescriptor>`;
    expect(await call('POST', `${P}/identity-sources/${saml.id}/saml-metadata`, { metadataXml })).toMatchObject({ config: { ssoUrl: 'https://idp.example/sso/redirect' } });
    await m.request('DELETE', `${P}/identity-sources/${saml.id}`);
    const admin = ((await m.request('GET', `${P}/users`)).body as { id: string; username: string }[]).find((u) => u.username === ADMIN.username)!;
    const handoff = randomBytes(32).toString('base64url');
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    const key = `{idm:operator-sso}:handoff:${createHash('sha256').update(handoff).digest('hex')}`;
    await redis.set(key, JSON.stringify({ outcome: 'signed-in', operator: admin, source: 'conformance' }), 'EX', 60);
    try {
      await call('POST', `${P}/auth/sso/session`, undefined, { token: null, headers: { cookie: `idm_sso_handoff=${handoff}` } });
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
  }

  async function driveEveryOperation() {
    await call('GET', '/health/live', undefined, { token: null });
    await call('GET', '/health/ready', undefined, { token: null });
    await call('GET', '/metrics', undefined, { token: null });
    await call('GET', `${P}/openapi.json`, undefined, { token: null });
    const { token } = await call('POST', `${P}/auth/login`, ADMIN, { token: null });
    await call('POST', `${P}/auth/logout`, undefined, { token });
    await driveOperatorSso();
    await call('DELETE', `${P}/auth/lockouts?address=192.0.2.44&username=admin`);

    const env = await call('POST', `${P}/environments`, { name: `e-${s()}`, description: 'conformance' });
    await call('GET', `${P}/environments`);
    await call('GET', `${P}/environments/${env.id}`);
    await call('PATCH', `${P}/environments/${env.id}`, { description: 'changed' });
    await call('POST', `${P}/environments/${env.id}/signing-keys`, { algorithm: 'ES256' });
    await call('POST', `${P}/environments/${env.id}/signing-keys/rotate`, { algorithm: 'ES256' });
    await call('GET', `${P}/environments/${env.id}/signing-keys`);
    const blocks = await seedBlocks(env.name, { credential: { username: 'guessed', projectId: null }, address: '192.0.2.78' });
    await call('GET', `${P}/environments/${env.id}/blocks`);
    await call('DELETE', `${P}/environments/${env.id}/blocks/${blocks[0].id}`);
    // One Gateway reporting itself the way a Gateway's heartbeat does, withdrawn after.
    const gatewayRedis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    const presence = new GatewayPresenceStore(gatewayRedis, env.name);
    const now = Date.now();
    await presence.report(
      {
        id: 'conformance-gw:1',
        environment: env.name,
        version: '0.1.0',
        epoch: 'e',
        revision: 3,
        appliedAt: now,
        ready: true,
        requestsPerSecond: 1.5,
        startedAt: now,
        reportedAt: now,
      },
      60_000,
    );
    await call('GET', `${P}/environments/${env.id}/gateways`).finally(() => presence.withdraw('conformance-gw:1').finally(() => gatewayRedis.disconnect()));

    const project = await call('POST', `${P}/projects`, { name: `p-${s()}` });
    const projectUrl = `${P}/projects/${project.id}`;
    await call('GET', `${P}/projects`);
    await call('GET', projectUrl);
    await call('PATCH', projectUrl, { description: 'changed' });
    await call('GET', `${P}/me/permissions?projectId=${project.id}`);
    await call('GET', `${P}/policy-types`);

    const keyManager = await call('POST', `${P}/key-managers`, {
      name: `km-${s()}`,
      issuer: `https://km-${s()}.example.com`,
      discoveryUrl: 'https://km.example.com/.well-known/openid-configuration',
      tokenTypes: 'both',
      clientId: 'gateway',
      clientSecret: 'introspection-secret',
      projectId: project.id,
      roleList: { type: 'DENY', roles: ['project-viewer'] },
      claimMappings: { userId: 'sub', username: 'preferred_username', roles: 'realm_roles', scopes: 'scp', tenant: 'tid', headers: { email: 'x-user-email' } },
    });
    await call('GET', `${P}/key-managers`);
    await call('GET', `${P}/key-managers/${keyManager.id}`);
    await call('PATCH', `${P}/key-managers/${keyManager.id}`, { enabled: false, clientSecret: null, tokenTypes: 'jwt' });
    await call('DELETE', `${P}/key-managers/${keyManager.id}`);

    const ldapSource = await call('POST', `${P}/identity-sources`, {
      name: `ids-${s()}`,
      type: 'ldap',
      projectId: project.id,
      config: {
        url: 'ldaps://ldap.example.org',
        caPem: '-----BEGIN CERTIFICATE-----',
        bind: { mode: 'search', bindDn: 'cn=svc,dc=example,dc=org', baseDn: 'ou=people,dc=example,dc=org' },
        groups: { mode: 'search', baseDn: 'ou=groups,dc=example,dc=org' },
      },
      secret: 'bind-password',
      roleMappings: { admins: ['admin'] },
    });
    const sqlSource = await call('POST', `${P}/identity-sources`, {
      name: `ids-${s()}`,
      type: 'sql',
      config: {
        driver: 'postgres',
        host: 'db',
        port: 5432,
        database: 'legacy',
        user: 'r',
        tls: {},
        query: 'SELECT pw AS password FROM users WHERE login = :username',
        passwordFormat: 'pbkdf2',
      },
      sync: { enabled: false, intervalMinutes: 30, lookupQuery: 'SELECT 1 FROM users WHERE login = :username' },
    });
    await call('GET', `${P}/identity-sources`);
    await call('GET', `${P}/identity-sources/${ldapSource.id}`);
    // The name does not resolve here: a 200 whose answer says the source is unavailable (never an outside host).
    const tested = await call('POST', `${P}/identity-sources/${ldapSource.id}/test`, {});
    expect(tested).toMatchObject({ ok: false, step: 'connection', outcome: 'unavailable' });
    await call('PATCH', `${P}/identity-sources/${ldapSource.id}`, { enabled: false, secret: null, description: 'corporate directory' });
    // Nobody provisioned yet: the sync asks the database nothing and reports so.
    expect(await call('POST', `${P}/identity-sources/${sqlSource.id}/sync`)).toMatchObject({ checked: { endUsers: 0, operators: 0 }, disabled: { endUsers: [], operators: [] } });
    await call('DELETE', `${P}/identity-sources/${ldapSource.id}`);
    await call('DELETE', `${P}/identity-sources/${sqlSource.id}`);

    const team = await call('POST', `${projectUrl}/teams`, { name: `t-${s()}` });
    await call('GET', `${projectUrl}/teams`);
    await call('GET', `${projectUrl}/teams/${team.id}`);
    await call('PATCH', `${projectUrl}/teams/${team.id}`, { description: 'changed' });

    const secret = await call('POST', `${projectUrl}/secrets`, { name: `s-${s()}`, kind: 'shared-secret', material: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0' });
    await call('GET', `${projectUrl}/secrets`);
    await call('GET', `${projectUrl}/secrets/${secret.id}`);
    await call('PATCH', `${projectUrl}/secrets/${secret.id}`, { description: 'changed' });
    await call('POST', `${projectUrl}/secrets/${secret.id}/versions`, { material: 'b3RoZXItb3RoZXItb3RoZXItb3RoZXI', overlapSeconds: 60 });
    await call('DELETE', `${projectUrl}/secrets/${secret.id}`);

    const proxy = await call('POST', `${projectUrl}/proxies`, {
      name: `x-${s()}`,
      basePath: `/x-${s()}`,
      upstreamUrl: 'http://127.0.0.1:9',
      environments: [env.name],
      selfService: 'manual',
      policies: [{ type: 'api-key', config: {} }],
    });
    await call('GET', `${projectUrl}/proxies`);
    await call('GET', `${projectUrl}/proxies/${proxy.id}`);
    await call('PATCH', `${projectUrl}/proxies/${proxy.id}`, { methods: ['GET', 'POST'] });
    // An LLM route with project token quotas (llm-route policy).
    await call('PATCH', `${projectUrl}/proxies/${proxy.id}`, {
      policies: [
        { type: 'api-key', config: {} },
        { type: 'llm-route', config: { projectTokenQuotas: [{ limit: 1000000, period: 'month' }] } },
      ],
    });

    const credential = await call('POST', `${projectUrl}/credentials`, {
      username: `c-${s()}`,
      password: 'some-password',
      email: 'c@example.com',
      metadata: [
        { key: 'tier', value: 'gold' },
        { key: 'token', value: 'hidden', secret: true },
      ],
      access: {
        time: { mode: 'allow', windows: [{ days: ['mon'], from: '08:00', to: '18:00' }] },
        rateLimit: { limits: [{ limit: 10, windowSeconds: 60 }] },
        llm: { models: ['gpt-4o-mini'], tokenQuotas: [{ limit: 100000, period: 'day' }] },
      },
    });
    const credentialUrl = `${projectUrl}/credentials/${credential.id}`;
    await call('GET', `${projectUrl}/credentials?limit=10`);
    await call('GET', credentialUrl);
    await call('PATCH', credentialUrl, { enabled: false, expiresAt: '2099-01-01T00:00:00Z' });
    const issued = await call('POST', `${credentialUrl}/api-keys`, {});
    await call('POST', `${credentialUrl}/api-keys/${issued.id}/rotate`, { graceSeconds: 60 });
    await call('DELETE', `${credentialUrl}/api-keys/${issued.id}`);
    await call('GET', `${credentialUrl}/token-settings`);
    await call('PUT', `${credentialUrl}/token-settings`, { grants: ['client_credentials'] });
    await call('PUT', `${credentialUrl}/token-settings`, {
      grants: ['authorization_code'],
      oidc: { redirectUris: ['https://rp.example/cb'], postLogoutRedirectUris: ['https://rp.example/bye'], tokenEndpointAuthMethod: 'client_secret_post' },
    });
    await call('GET', `${projectUrl}/oidc-clients?limit=10`);
    await call('GET', `${projectUrl}/oidc-clients/${credential.id}/consents?limit=10`);
    await call('DELETE', `${credentialUrl}/token-settings`);
    await call('GET', `${projectUrl}/client-registration`);
    await call('PUT', `${projectUrl}/client-registration`, { enabled: true });
    const initialAccessToken = await call('POST', `${projectUrl}/initial-access-tokens`, { description: 'partner onboarding', expiresInSeconds: 3600, singleUse: true });
    await call('GET', `${projectUrl}/initial-access-tokens`);
    await call('DELETE', `${projectUrl}/initial-access-tokens/${initialAccessToken.id}`);
    await call('GET', `${projectUrl}/brute-force-settings`);
    await call('PUT', `${projectUrl}/brute-force-settings`, {
      perCredential: 5,
      perCredentialAddress: 3,
      windowSeconds: 600,
      lockoutSeconds: 60,
      maxLockoutSeconds: 3600,
      strikeMemorySeconds: 0,
    });
    await call('GET', `${projectUrl}/brute-force-settings`);
    await call('DELETE', `${projectUrl}/brute-force-settings`);
    await call('POST', `${projectUrl}/credentials/import`, {
      credentials: [
        { username: `i-${s()}`, apiKeys: [generateApiKey().key], roles: ['reader'], metadata: [{ key: 'origin', value: 'legacy' }] },
        { username: `i-${s()}`, passwordHash: await argon2.hash('imported-password', { type: argon2.argon2id }), enabled: false, expiresAt: '2099-01-01T00:00:00Z' },
      ],
    });

    const pending = await call('POST', `${P}/self-service/credential-requests`, { proxyId: proxy.id, username: `app-${s()}` }, { token: null });
    await call('POST', `${projectUrl}/credential-requests/${pending.id}/approve`);
    await call('GET', `${P}/self-service/credential-requests/${pending.id}`, undefined, { token: null, headers: { authorization: `Bearer ${pending.pollSecret}` } });
    const refused = await call('POST', `${P}/self-service/credential-requests`, { proxyId: proxy.id, username: `app-${s()}` }, { token: null });
    await call('POST', `${projectUrl}/credential-requests/${refused.id}/reject`);
    await call('GET', `${projectUrl}/credential-requests`);
    const endUser = await call('POST', `${projectUrl}/users`, {
      username: `eu-${s()}`,
      password: 'end-user-password',
      email: `eu-${s()}@example.com`,
      givenName: 'Ada',
      locale: 'en-GB',
      pictureUrl: 'https://example.com/ada.png',
      attributes: { department: 'r&d' },
    });
    await call('GET', `${projectUrl}/users?limit=10&search=eu-`);
    await call('GET', `${projectUrl}/users/${endUser.id}`);
    // Mails go to the test's own SMTP server (SMTP_URL below).
    await call('POST', `${projectUrl}/users/${endUser.id}/verification-mail`);
    await call('POST', `${projectUrl}/users/${endUser.id}/password-reset-mail`);
    await call('GET', `${projectUrl}/end-user-registration`);
    await call('PUT', `${projectUrl}/end-user-registration`, { selfRegistration: true });
    await call('PATCH', `${projectUrl}/users/${endUser.id}`, { enabled: false, locked: true, familyName: 'Lovelace' });
    // A consent as a Gateway's consent page leaves it.
    const consentClient = '0192f1c4-6a8e-7b3d-9f10-2c4e5a6b7c8d';
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    await redis.hset(oidcConsentKey(env.name, endUser.id), consentClient, 'openid email').finally(() => redis.disconnect());
    await call('GET', `${projectUrl}/users/${endUser.id}/consents`);
    await call('DELETE', `${projectUrl}/users/${endUser.id}/consents/${consentClient}`);
    await call('DELETE', `${projectUrl}/users/${endUser.id}`);
    const keyed = await call('POST', `${projectUrl}/credentials`, { username: `k-${s()}` });
    await call('POST', `${P}/self-service/api-keys/rotate`, { graceSeconds: 0 }, { token: null, headers: { 'x-api-key': keyed.apiKey.key } });

    const bundle = await call('GET', `${projectUrl}/bundle`);
    await call('GET', `${projectUrl}/bundle?format=yaml`);
    await call('POST', `${P}/apiops/plan`, { bundle: { ...bundle, teams: [] }, prune: true });
    await call('POST', `${P}/apiops/apply`, { bundle: { apiVersion: 'idm/v1', kind: 'ProjectBundle', project: { name: `b-${s()}` } } });

    const user = await call('POST', `${P}/users`, { username: `u${s()}`, password: 'user-password-1' });
    await call('GET', `${P}/users`);
    await call('GET', `${P}/users/${user.id}`);
    await call('PATCH', `${P}/users/${user.id}`, { password: 'user-password-2' });
    await call('PUT', `${P}/me/password`, { currentPassword: ADMIN.password, newPassword: ADMIN.password });
    const group = await call('POST', `${P}/groups`, { name: `g-${s()}` });
    await call('POST', `${P}/groups/${group.id}/members`, { userId: user.id });
    await call('GET', `${P}/groups`);
    await call('DELETE', `${P}/groups/${group.id}/members/${user.id}`);
    const role = await call('POST', `${P}/roles`, { name: `r-${s()}`, permissions: ['proxy:read'] });
    await call('GET', `${P}/roles`);
    await call('PATCH', `${P}/roles/${role.id}`, { permissions: ['proxy:read', 'proxy:write'] });
    const binding = await call('POST', `${P}/role-bindings`, { roleId: role.id, subject: { type: 'group', id: group.id }, scope: { type: 'project', id: project.id } });
    await call('GET', `${P}/role-bindings`);
    await call('DELETE', `${P}/role-bindings/${binding.id}`);
    await call('DELETE', `${P}/roles/${role.id}`);
    await call('DELETE', `${P}/groups/${group.id}`);
    await call('DELETE', `${P}/users/${user.id}`);
    await call('GET', `${P}/audit?limit=5`);
    await call('GET', `${P}/analytics/auth?bucket=day&top=3`);
    await observeEventStream(`${P}/audit/stream`);
    await observeEventStream(`${P}/analytics/auth/stream`);

    await call('DELETE', `${projectUrl}/proxies/${proxy.id}`);
    await call('DELETE', credentialUrl);
    await call('DELETE', `${projectUrl}/teams/${team.id}`);
    await call('DELETE', projectUrl);
    await call('DELETE', `${P}/environments/${env.id}`);
  }

  /** Server-Sent Events never end, so the stream is opened over a socket and its head recorded. */
  async function observeEventStream(path: string) {
    if (m.app.getHttpServer().address() === null) await m.app.listen(0, '127.0.0.1');
    const { port } = m.app.getHttpServer().address() as { port: number };
    const { token } = (await m.request('POST', `${P}/auth/login`, ADMIN, { token: null })).body;
    const abort = new AbortController();
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    abort.abort();
    observed.push({ operation: `get ${path}`, status: res.status, contentType: res.headers.get('content-type') ?? '', body: undefined });
  }

  it('names the server it is served from', () => {
    expect(document.servers).toEqual([expect.objectContaining({ url: expect.any(String) })]);
  });

  it('drives every operation of the document', () => {
    const documented = Object.entries(document.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`));
    expect(documented.length).toBeGreaterThan(60);
    expect(documented.filter((operation) => !observed.some((o) => o.operation === operation))).toEqual([]);
  });

  it('answers every operation with a status and body its document schema allows', () => {
    const deviations = observed.flatMap(({ operation, status, contentType, body }) => {
      const [method, path] = operation.split(' ');
      const response = document.paths[path][method].responses[String(status)];
      if (!response) return [`${operation}: status ${status} is not documented`];
      const mediaType = contentType.split(';')[0].trim();
      if (!response.content) return status === 204 || status === 302 ? [] : [`${operation}: ${status} has no documented content`];
      const media = response.content[mediaType];
      if (!media?.schema) return [`${operation}: ${status} ${mediaType} has no schema`];
      if (mediaType !== 'application/json') return [];
      const problem = violation(media.schema, body);
      return problem ? [`${operation}: ${problem}`] : [];
    });
    expect(deviations).toEqual([]);
  });

  it('documents every request the Manager accepted as valid, and its examples too', () => {
    const sent = observed.filter((o) => o.request !== undefined).map(({ operation, request }) => ({ operation, request }));
    const examples = Object.entries(document.paths).flatMap(([path, ops]) =>
      Object.entries(ops).flatMap(([method, op]) =>
        ((op.requestBody?.content['application/json']?.schema as { examples?: unknown[] })?.examples ?? []).map((request) => ({ operation: `${method} ${path}`, request })),
      ),
    );
    expect(examples.length).toBeGreaterThan(3);
    const refused = [...sent, ...examples].flatMap(({ operation, request }) => {
      const [method, path] = operation.split(' ');
      const problem = violation(requestSchema(method, path), request);
      return problem ? [`${operation}: ${problem}`] : [];
    });
    expect(refused).toEqual([]);
  });

  // Rules zod checks with refinements, which JSON Schema only knows from what the schemas add.
  it.each([
    ['an upstream URL that is not http(s)', 'post', '/api/v1/projects/{projectId}/proxies', { name: 'ftp', basePath: '/ftp', upstreamUrl: 'ftp://files.example.com' }],
    ['an upstream URL with credentials', 'post', '/api/v1/projects/{projectId}/proxies', { name: 'creds', basePath: '/creds', upstreamUrl: 'http://user:pw@example.com' }],
    ['an upstream URL with a query', 'post', '/api/v1/projects/{projectId}/proxies', { name: 'query', basePath: '/query', upstreamUrl: 'http://example.com/?a=1' }],
    ['a base path with a dot segment', 'post', '/api/v1/projects/{projectId}/proxies', { name: 'dots', basePath: '/a/../b', upstreamUrl: 'http://example.com' }],
    ['a base path under a reserved prefix', 'post', '/api/v1/projects/{projectId}/proxies', { name: 'reserved', basePath: '/.well-known/x', upstreamUrl: 'http://example.com' }],
    ['a repeated method', 'post', '/api/v1/projects/{projectId}/proxies', { name: 'twice', basePath: '/twice', upstreamUrl: 'http://example.com', methods: ['GET', 'GET'] }],
    [
      'a policy config its type does not take',
      'post',
      '/api/v1/projects/{projectId}/proxies',
      { name: 'policy', basePath: '/policy', upstreamUrl: 'http://example.com', policies: [{ type: 'api-key', config: { header: 42 } }] },
    ],
    [
      'a policy of no known type',
      'post',
      '/api/v1/projects/{projectId}/proxies',
      { name: 'unknown', basePath: '/unknown', upstreamUrl: 'http://example.com', policies: [{ type: 'no-such-policy' }] },
    ],
    ['a compromised key with a retirement delay', 'post', '/api/v1/environments/{environmentId}/signing-keys/rotate', { compromised: true, retireAfterSeconds: 60 }],
    [
      'a project scope without an id',
      'post',
      '/api/v1/role-bindings',
      { roleId: '0192f1c4-6a8e-7b3d-9f10-2c4e5a6b7c8d', subject: { type: 'user', id: '0192f1c4-6a8e-7b3d-9f10-2c4e5a6b7c8d' }, scope: { type: 'project' } },
    ],
    [
      'a system scope with an id',
      'post',
      '/api/v1/role-bindings',
      {
        roleId: '0192f1c4-6a8e-7b3d-9f10-2c4e5a6b7c8d',
        subject: { type: 'user', id: '0192f1c4-6a8e-7b3d-9f10-2c4e5a6b7c8d' },
        scope: { type: 'system', id: '0192f1c4-6a8e-7b3d-9f10-2c4e5a6b7c8d' },
      },
    ],
    [
      'a time window with "from" but no "to"',
      'post',
      '/api/v1/projects/{projectId}/credentials',
      { username: 'half-window', access: { time: { mode: 'allow', windows: [{ from: '08:00' }] } } },
    ],
    ['a bundle that is not a project bundle', 'post', '/api/v1/apiops/plan', { bundle: { apiVersion: 'idm/v1', kind: 'Something' } }],
    ['an end user without an email', 'post', '/api/v1/projects/{projectId}/users', { username: 'no-mail' }],
  ])('refuses %s in the document as the Manager does', async (_what, method, path, request) => {
    const projectId = (await m.request('POST', `${P}/projects`, { name: `r-${s()}` })).body.id;
    const environmentId = (await m.request('POST', `${P}/environments`, { name: `r-${s()}` })).body.id;
    const answer = await m.request(method.toUpperCase(), path.replace('{projectId}', projectId).replace('{environmentId}', environmentId), request);
    expect(answer.status).toBe(400);
    expect(violation(requestSchema(method, path), request)).toBeDefined();
  });
});
