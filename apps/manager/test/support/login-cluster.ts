import { generateKeyPairSync } from 'node:crypto';
import type { Cluster } from './cluster';

/**
 * What every spec that signs end users in through a cluster's OpenID Provider sets up first: the
 * environment's signing key (the cluster's Manager must run with
 * SIGNING_KEY_ACTIVATION_DELAY_SECONDS=0 for it to sign at once) and a project deployed to the
 * environment, so its credentials — OIDC clients, end users — reach the Gateways.
 */
export async function addSigningKey(cluster: Cluster, environment: string, algorithm: 'RS256' | 'ES256'): Promise<void> {
  const env = await cluster.admin.environments.named(environment);
  const key = algorithm === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey : generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  await cluster.admin.signingKeys.create(env.id, { algorithm, privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString() });
}

/** A new project with a jwt-auth proxy `orders` at `basePath` on the environment (a deployed proxy is what publishes the project's credentials); its id. */
export async function createDeployedProject(cluster: Cluster, environment: string, name: string, basePath: string): Promise<string> {
  const projectId = (await cluster.admin.projects.create({ name })).id;
  await cluster.admin.proxies.create(projectId, {
    name: 'orders',
    basePath,
    upstreamUrl: cluster.echoUrl,
    environments: [environment],
    policies: [{ type: 'jwt-auth', config: {} }],
  });
  return projectId;
}

/** An OIDC client of the project (a credential with a password as its client secret) with these token settings; its id. */
export async function createLoginClient(
  cluster: Cluster,
  projectId: string,
  client: { name: string; secret: string; settings: Parameters<Cluster['admin']['credentials']['putTokenSettings']>[2] },
): Promise<string> {
  const clientId = (await cluster.admin.credentials.create(projectId, { username: client.name, password: client.secret, issueApiKey: false })).id;
  await cluster.admin.credentials.putTokenSettings(projectId, clientId, client.settings);
  return clientId;
}
