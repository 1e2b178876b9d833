import {
  apiProxySchema,
  auditPageSchema,
  authAnalyticsSchema,
  createApiProxySchema,
  createCredentialSchema,
  importCredentialsSchema,
  createEndUserSchema,
  endUserSchema,
  updateEndUserSchema,
  importedCredentialsSchema,
  createdCredentialSchema,
  createEnvironmentSchema,
  createProjectSchema,
  createSigningKeySchema,
  credentialSchema,
  environmentSchema,
  issuedApiKeySchema,
  projectSchema,
  rotateApiKeySchema,
  rotatedApiKeySchema,
  rotateSigningKeySchema,
  signingKeyInfoSchema,
  tokenSettingsSchema,
  updateApiProxySchema,
  updateCredentialSchema,
  createApiKeySchema,
  createProjectSecretSchema,
  projectSecretSchema,
  rotateProjectSecretSchema,
} from '@idm/domain';
import { z } from 'zod';
import { sessionSchema } from '../../src/auth/login.schema';

/** What a request may send: the schema's input (defaults may be left out). */
type In<S extends z.ZodType> = z.input<S>;

/**
 * The admin REST API over real HTTP, as an operator script would use it (Logto's integration
 * test client): one typed method per route the specs use, each answer checked against the zod
 * schema the Manager documents it with, so a spec reads typed fields and a response that drifts
 * from its contract fails where it happens. `call` stays for requests a spec sends on purpose
 * outside the contract.
 */
export class AdminClient {
  private token?: string;
  constructor(readonly baseUrl: string) {}

  async login(username: string, password: string): Promise<void> {
    this.token = (await this.send(sessionSchema, 'POST', '/api/v1/auth/login', { username, password })).token;
  }

  readonly environments = {
    list: () => this.send(z.array(environmentSchema), 'GET', '/api/v1/environments'),
    create: (body: In<typeof createEnvironmentSchema>) => this.send(environmentSchema, 'POST', '/api/v1/environments', body),
    /** The environment with that name (specs create environments by name). */
    named: async (name: string) => {
      const found = (await this.environments.list()).find((e) => e.name === name);
      if (!found) throw new Error(`no environment named ${name}`);
      return found;
    },
  };

  readonly signingKeys = {
    create: (environmentId: string, body: In<typeof createSigningKeySchema> = {}) =>
      this.send(signingKeyInfoSchema, 'POST', `/api/v1/environments/${environmentId}/signing-keys`, body),
    rotate: (environmentId: string, body: In<typeof rotateSigningKeySchema> = {}) =>
      this.send(signingKeyInfoSchema, 'POST', `/api/v1/environments/${environmentId}/signing-keys/rotate`, body),
  };

  readonly projects = {
    create: (body: In<typeof createProjectSchema>) => this.send(projectSchema, 'POST', '/api/v1/projects', body),
  };

  readonly proxies = {
    create: (projectId: string, body: In<typeof createApiProxySchema>) => this.send(apiProxySchema, 'POST', `/api/v1/projects/${projectId}/proxies`, body),
    get: (projectId: string, id: string) => this.send(apiProxySchema, 'GET', `/api/v1/projects/${projectId}/proxies/${id}`),
    update: (projectId: string, id: string, body: In<typeof updateApiProxySchema>) => this.send(apiProxySchema, 'PATCH', `/api/v1/projects/${projectId}/proxies/${id}`, body),
    remove: (projectId: string, id: string) => this.send(z.undefined(), 'DELETE', `/api/v1/projects/${projectId}/proxies/${id}`),
  };

  readonly credentials = {
    list: (projectId: string) => this.send(z.array(credentialSchema), 'GET', `/api/v1/projects/${projectId}/credentials`),
    create: (projectId: string, body: In<typeof createCredentialSchema>) => this.send(createdCredentialSchema, 'POST', `/api/v1/projects/${projectId}/credentials`, body),
    import: (projectId: string, body: In<typeof importCredentialsSchema>) => this.send(importedCredentialsSchema, 'POST', `/api/v1/projects/${projectId}/credentials/import`, body),
    get: (projectId: string, id: string) => this.send(credentialSchema, 'GET', `/api/v1/projects/${projectId}/credentials/${id}`),
    update: (projectId: string, id: string, body: In<typeof updateCredentialSchema>) =>
      this.send(credentialSchema, 'PATCH', `/api/v1/projects/${projectId}/credentials/${id}`, body),
    issueApiKey: (projectId: string, id: string, body: In<typeof createApiKeySchema> = {}) =>
      this.send(issuedApiKeySchema, 'POST', `/api/v1/projects/${projectId}/credentials/${id}/api-keys`, body),
    rotateApiKey: (projectId: string, id: string, apiKeyId: string, body: In<typeof rotateApiKeySchema> = {}) =>
      this.send(rotatedApiKeySchema, 'POST', `/api/v1/projects/${projectId}/credentials/${id}/api-keys/${apiKeyId}/rotate`, body),
    revokeApiKey: (projectId: string, id: string, apiKeyId: string) => this.send(z.undefined(), 'DELETE', `/api/v1/projects/${projectId}/credentials/${id}/api-keys/${apiKeyId}`),
    putTokenSettings: (projectId: string, id: string, body: In<typeof tokenSettingsSchema>) =>
      this.send(tokenSettingsSchema, 'PUT', `/api/v1/projects/${projectId}/credentials/${id}/token-settings`, body),
  };

  readonly endUsers = {
    create: (projectId: string, body: In<typeof createEndUserSchema>) => this.send(endUserSchema, 'POST', `/api/v1/projects/${projectId}/users`, body),
    get: (projectId: string, id: string) => this.send(endUserSchema, 'GET', `/api/v1/projects/${projectId}/users/${id}`),
    update: (projectId: string, id: string, body: In<typeof updateEndUserSchema>) => this.send(endUserSchema, 'PATCH', `/api/v1/projects/${projectId}/users/${id}`, body),
  };

  readonly secrets = {
    create: (projectId: string, body: In<typeof createProjectSecretSchema>) => this.send(projectSecretSchema, 'POST', `/api/v1/projects/${projectId}/secrets`, body),
    get: (projectId: string, id: string) => this.send(projectSecretSchema, 'GET', `/api/v1/projects/${projectId}/secrets/${id}`),
    list: (projectId: string) => this.send(z.array(projectSecretSchema), 'GET', `/api/v1/projects/${projectId}/secrets`),
    rotate: (projectId: string, id: string, body: In<typeof rotateProjectSecretSchema>) =>
      this.send(projectSecretSchema, 'POST', `/api/v1/projects/${projectId}/secrets/${id}/versions`, body),
    remove: (projectId: string, id: string) => this.send(z.undefined(), 'DELETE', `/api/v1/projects/${projectId}/secrets/${id}`),
  };

  readonly analytics = {
    auth: (filter: Record<string, string>) => this.send(authAnalyticsSchema, 'GET', `/api/v1/analytics/auth?${new URLSearchParams(filter).toString()}`),
  };

  readonly audit = {
    query: (filter: Record<string, string>) => this.send(auditPageSchema, 'GET', `/api/v1/audit?${new URLSearchParams(filter).toString()}`),
  };

  /** A typed route: the body as the schema types it, after checking it fits (parsed copy discarded: specs see what was sent). */
  private async send<S extends z.ZodType>(schema: S, method: string, path: string, body?: unknown): Promise<z.output<S>> {
    const answer = await this.call(method, path, body);
    const checked = schema.safeParse(answer);
    if (!checked.success) throw new Error(`${method} ${path}: the answer does not match its contract: ${z.prettifyError(checked.error)}`);
    return answer as z.output<S>;
  }

  /** Any request, untyped; fails on a non-2xx answer with its status and body. */
  async call(method: string, path: string, body?: unknown): Promise<any> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }
}
