import { Injectable } from '@nestjs/common';
import { SNAPSHOT_SCHEMA_VERSION, type ConfigSnapshot, type SnapshotCredential, type SnapshotSigningKey } from '@idm/config-bus';
import { isoOrNull } from '@idm/platform';
import { ApiProxyRepository } from '../repositories/api-proxy.repository';
import { CredentialRepository, type ServedCredential } from '../repositories/credential.repository';
import { SigningKeyRepository, type SigningKeyRow } from '../repositories/signing-key.repository';

/** Reads what one environment's Gateways need: its deployed proxies and their projects' credentials. */
@Injectable()
export class SnapshotBuilder {
  constructor(
    private readonly proxies: ApiProxyRepository,
    private readonly credentials: CredentialRepository,
    private readonly signingKeys: SigningKeyRepository,
  ) {}

  async build(environment: string, epoch: string, revision: number): Promise<ConfigSnapshot> {
    const proxyRows = await this.proxies.deployedIn(environment);
    const projectIds = [...new Set(proxyRows.map((r) => r.proxy.projectId))];
    return {
      schemaVersion: SNAPSHOT_SCHEMA_VERSION,
      environment,
      epoch,
      revision,
      generatedAt: new Date().toISOString(),
      proxies: proxyRows.map(({ proxy: p, deployedAt }) => ({
        id: p.id,
        projectId: p.projectId,
        name: p.name,
        basePath: p.basePath,
        upstreamUrl: p.upstreamUrl,
        methods: p.methods,
        policies: p.policies,
        deployedAt: isoOrNull(deployedAt),
      })),
      credentials: (await this.credentials.servedIn(projectIds)).map(toSnapshotCredential),
      signingKeys: (await this.signingKeys.publishedIn(environment)).map(toSnapshotKey),
    };
  }
}

function toSnapshotCredential({ credential: c, apiKeys, tokenSettings }: ServedCredential): SnapshotCredential {
  return {
    id: c.id,
    projectId: c.projectId,
    username: c.username,
    passwordHash: c.passwordHash,
    enabled: c.enabled,
    expiresAt: isoOrNull(c.expiresAt),
    roles: c.roles,
    metadata: c.metadata,
    access: c.access,
    tokenSettings,
    digestHa1: c.digestHa1,
    truststore: c.truststore,
    apiKeys: apiKeys.map((k) => ({ id: k.id, prefix: k.prefix, hash: k.keyHash, expiresAt: isoOrNull(k.expiresAt) })),
  };
}

function toSnapshotKey(k: SigningKeyRow): SnapshotSigningKey {
  return {
    kid: k.kid,
    algorithm: k.algorithm,
    publicJwk: k.publicJwk,
    privateKey: k.privateKey,
    activatesAt: k.activatesAt.toISOString(),
    publishedUntil: isoOrNull(k.publishedUntil),
  };
}
