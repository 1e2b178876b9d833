import { createHash, timingSafeEqual } from 'node:crypto';
import type { SnapshotCredential, SnapshotProxy } from '@idm/config-bus';
import { SecretBox } from '@idm/domain';
import { jwtAuthConfigSchema, oauth2AuthConfigSchema, type DirectoryCredential, type TokenServicePolicy } from '@idm/policies';
import { OAuthError, type SecretOpener } from '@idm/tokens';
import { compileCors, type TokenCorsPolicy } from '../http/token-cors';
import type { AuthenticatedClient } from './token-clients';

/**
 * The token clients of the `/auth` prefix: one per deployed proxy whose jwt-auth or oauth2-auth
 * policy carries a `tokenService` block. The client id and secret are the proxy's key and secret
 * (sealed in the snapshot, opened here once per revision). A proxy that is undeployed or deleted
 * is simply absent from the revision, so its client can no longer authenticate and the policies
 * refuse its tokens (they are bound to the proxy by `proxy_id`).
 */
export interface ProxyTokenClient extends AuthenticatedClient {
  readonly proxy: SnapshotProxy;
  readonly settings: TokenServicePolicy;
  /** SHA-256 of the opened secret; null when it could not be opened (the client then always fails). */
  readonly secretDigest: Buffer | null;
}

const TOKEN_SERVICE_POLICIES = { 'jwt-auth': jwtAuthConfigSchema, 'oauth2-auth': oauth2AuthConfigSchema } as const;
const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
/** Compared against when the client id is unknown, so the answer time does not reveal which ids exist. */
const NOBODY = digest('no such client');

export class ProxyTokenClients {
  private readonly byClientId = new Map<string, ProxyTokenClient | 'ambiguous'>();
  private readonly byProxyId = new Map<string, ProxyTokenClient>();
  /** The union of the proxies' CORS settings (a preflight to `/auth` names no client). */
  readonly cors: TokenCorsPolicy | null;

  constructor(proxies: Iterable<SnapshotProxy>, secrets: SecretOpener) {
    for (const proxy of proxies) {
      const settings = tokenServiceOf(proxy);
      if (!settings) continue;
      const deployedAt = proxy.deployedAt === null ? NaN : Date.parse(proxy.deployedAt);
      const notBefore = Number.isNaN(deployedAt) ? 0 : Math.floor(deployedAt / 1000);
      const credential = clientCredential(proxy, settings.clientId);
      const client: ProxyTokenClient = Object.freeze({
        proxy,
        proxyId: proxy.id,
        notBefore,
        settings,
        credential,
        entry: clientEntry(credential),
        secretDigest: openDigest(settings.clientSecret, secrets),
      });
      this.byClientId.set(settings.clientId, this.byClientId.has(settings.clientId) ? 'ambiguous' : client);
      this.byProxyId.set(proxy.id, client);
    }
    this.cors = compileCors([...this.byProxyId.values()].map((c) => c.settings.cors));
  }

  authenticate(clientId: string, clientSecret: string): ProxyTokenClient {
    const found = this.byClientId.get(clientId);
    const client = found === 'ambiguous' ? undefined : found;
    const expected = client?.secretDigest ?? NOBODY;
    const matches = timingSafeEqual(expected, digest(clientSecret));
    if (!client || !client.secretDigest || !matches) throw new OAuthError('invalid_client', 'client authentication failed');
    return client;
  }

  forProxy(proxyId: string): ProxyTokenClient | undefined {
    return this.byProxyId.get(proxyId);
  }
}

function tokenServiceOf(proxy: SnapshotProxy): TokenServicePolicy | undefined {
  for (const policy of proxy.policies) {
    const schema = TOKEN_SERVICE_POLICIES[policy.type as keyof typeof TOKEN_SERVICE_POLICIES];
    if (!schema || policy.config.tokenService === undefined) continue;
    const parsed = schema.safeParse(policy.config);
    // An invalid policy makes the proxy unavailable anyway; its client must not half-work.
    if (parsed.success && parsed.data.tokenService) return parsed.data.tokenService;
  }
  return undefined;
}

/** Only sealed secrets are accepted: a plaintext one in a snapshot means something bypassed the Manager. */
function openDigest(sealed: string, secrets: SecretOpener): Buffer | null {
  if (!SecretBox.isSealed(sealed)) return null;
  try {
    return digest(secrets.open(sealed));
  } catch {
    return null;
  }
}

/** The proxy client seen as a token owner: its own subject, the proxy's project, no password, roles or metadata. */
function clientCredential(proxy: SnapshotProxy, clientId: string): SnapshotCredential {
  return Object.freeze({
    id: clientId,
    projectId: proxy.projectId,
    username: clientId,
    passwordHash: null,
    enabled: true,
    expiresAt: null,
    apiKeys: [],
    roles: [],
    metadata: [],
    access: {},
    tokenSettings: null,
    digestHa1: null,
    truststore: [],
    endUser: null,
  });
}

/** Always live: a proxy client exists exactly as long as its proxy is deployed. */
function clientEntry(credential: SnapshotCredential): DirectoryCredential {
  return Object.freeze({
    id: credential.id,
    projectId: credential.projectId,
    username: credential.username,
    passwordHash: null,
    enabled: true,
    expiresAt: null,
    rules: null,
    digestHa1: null,
    truststore: Object.freeze([]),
    roles: Object.freeze([]),
  });
}
