import { randomBytes } from 'node:crypto';

// Seeds the `npm start` demo through the Manager's own REST API (idempotent across restarts):
// environment `dev`, project `demo`, proxy `/demo` (api-key) in front of the echo upstream, and
// credential `demo-client` whose API key is issued once and kept in ./.data/demo.json.
// Token service demo: the environment's signing key, proxy `/demo-jwt` (jwt-auth) and credential
// `demo-oauth-client` allowed client_credentials and password grants through `/credential`.
export async function seedDemo({ managerUrl, username, password, echoUrl, previous }) {
  const api = async (method, path, body, token) => {
    const res = await fetch(`${managerUrl}/api/v1${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  const { token } = await api('POST', '/auth/login', { username, password });
  const call = (method, path, body) => api(method, path, body, token);
  const findOrCreate = async (listPath, match, body) => (await call('GET', listPath)).find(match) ?? call('POST', listPath, body);

  const environment = await findOrCreate('/environments', (e) => e.name === 'dev', { name: 'dev', description: 'Demo environment' });
  const project = await findOrCreate('/projects', (p) => p.name === 'demo', { name: 'demo', description: 'Demo project' });
  const proxies = `/projects/${project.id}/proxies`;
  const proxy = await findOrCreate(proxies, (p) => p.name === 'demo', {
    name: 'demo',
    basePath: '/demo',
    upstreamUrl: echoUrl,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    policies: [{ type: 'api-key', config: { header: 'x-api-key' } }],
    environments: [environment.name],
  });
  if (proxy.upstreamUrl !== echoUrl) await call('PATCH', `${proxies}/${proxy.id}`, { upstreamUrl: echoUrl });

  const credentials = `/projects/${project.id}/credentials`;
  let credential = (await call('GET', credentials)).find((c) => c.username === 'demo-client');
  let apiKey = previous?.apiKey;
  if (!credential) {
    credential = await call('POST', credentials, { username: 'demo-client', issueApiKey: true });
    apiKey = credential.apiKey.key;
  } else if (!apiKey || !credential.apiKeys.some((k) => apiKey.startsWith(k.prefix + '_'))) {
    apiKey = (await call('POST', `${credentials}/${credential.id}/api-keys`, {})).key;
  }
  const oauthClient = await seedTokenDemo({ call, environment, project, echoUrl, previous });
  return { environment: environment.name, project: project.name, proxyBasePath: '/demo', apiKey, oauthClient };
}

async function seedTokenDemo({ call, environment, project, echoUrl, previous }) {
  const keys = `/environments/${environment.id}/signing-keys`;
  if ((await call('GET', keys)).length === 0) await call('POST', keys, { algorithm: 'RS256' });
  const proxies = `/projects/${project.id}/proxies`;
  if (!(await call('GET', proxies)).some((p) => p.name === 'demo-jwt')) {
    await call('POST', proxies, {
      name: 'demo-jwt',
      basePath: '/demo-jwt',
      upstreamUrl: echoUrl,
      methods: ['GET', 'POST'],
      policies: [{ type: 'jwt-auth', config: {} }],
      environments: [environment.name],
    });
  }
  const credentials = `/projects/${project.id}/credentials`;
  const username = 'demo-oauth-client';
  // The secret is chosen here (credentials never show passwords again), so it is kept in demo.json.
  const kept = previous?.oauthClient;
  let credential = (await call('GET', credentials)).find((c) => c.username === username);
  let clientSecret = kept?.clientSecret;
  if (!credential || !clientSecret) {
    clientSecret = randomBytes(18).toString('base64url');
    credential = credential
      ? await call('PATCH', `${credentials}/${credential.id}`, { password: clientSecret })
      : await call('POST', credentials, { username, password: clientSecret, issueApiKey: false, roles: ['demo'] });
  }
  await call('PUT', `${credentials}/${credential.id}/token-settings`, {
    grants: ['client_credentials', 'password', 'refresh_token'],
    refreshAllowed: true,
    scopes: ['read', 'write'],
    scopeMode: 'lenient',
  });
  return { clientId: credential.id, clientSecret, username, password: clientSecret };
}
