import { Injectable } from '@nestjs/common';
import { SNAPSHOT_SCHEMA_VERSION, type ConfigSnapshot, type SnapshotCredential } from '@idm/config-bus';
import { isoOrNull } from '@idm/platform';
import { and, asc, eq, gt, inArray, isNull, or } from 'drizzle-orm';
import { Database } from '../database/database';
import { apiKeys, apiProxies, credentials, credentialTokenSettings, environments, proxyDeployments, signingKeys } from '../database/schema';

/** Reads what one environment's Gateways need: its deployed proxies and their projects' credentials. */
@Injectable()
export class SnapshotBuilder {
  constructor(private readonly database: Database) {}

  async build(environment: string, epoch: string, revision: number): Promise<ConfigSnapshot> {
    const db = this.database.db;
    const proxyRows = await db
      .select({ proxy: apiProxies, deployedAt: proxyDeployments.deployedAt })
      .from(apiProxies)
      .innerJoin(proxyDeployments, eq(proxyDeployments.proxyId, apiProxies.id))
      .innerJoin(environments, eq(environments.id, proxyDeployments.environmentId))
      .where(eq(environments.name, environment))
      .orderBy(asc(apiProxies.basePath));
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
      credentials: projectIds.length ? await this.credentialsOf(projectIds) : [],
      signingKeys: await this.signingKeysOf(environment),
    };
  }

  /** Keys still published: the signer, any key waiting to activate, and retired keys whose tokens may live. */
  private async signingKeysOf(environment: string) {
    const rows = await this.database.db
      .select({ key: signingKeys })
      .from(signingKeys)
      .innerJoin(environments, eq(environments.id, signingKeys.environmentId))
      .where(and(eq(environments.name, environment), or(isNull(signingKeys.publishedUntil), gt(signingKeys.publishedUntil, new Date()))))
      .orderBy(asc(signingKeys.activatesAt));
    return rows.map(({ key: k }) => ({
      kid: k.kid,
      algorithm: k.algorithm,
      publicJwk: k.publicJwk,
      privateKey: k.privateKey,
      activatesAt: k.activatesAt.toISOString(),
      publishedUntil: isoOrNull(k.publishedUntil),
    }));
  }

  private async credentialsOf(projectIds: string[]): Promise<SnapshotCredential[]> {
    const db = this.database.db;
    const rows = await db.select().from(credentials).where(inArray(credentials.projectId, projectIds)).orderBy(asc(credentials.id));
    const keys = rows.length
      ? await db.select().from(apiKeys).where(inArray(apiKeys.credentialId, rows.map((r) => r.id))).orderBy(asc(apiKeys.id))
      : [];
    const tokenSettings = rows.length ? await db.select().from(credentialTokenSettings).where(inArray(credentialTokenSettings.credentialId, rows.map((r) => r.id))) : [];
    return rows.map((c) => ({
      id: c.id,
      projectId: c.projectId,
      username: c.username,
      passwordHash: c.passwordHash,
      enabled: c.enabled,
      expiresAt: isoOrNull(c.expiresAt),
      roles: c.roles,
      metadata: c.metadata,
      access: c.access,
      tokenSettings: tokenSettings.find((t) => t.credentialId === c.id)?.settings ?? null,
      digestHa1: c.digestHa1,
      truststore: c.truststore,
      apiKeys: keys
        .filter((k) => k.credentialId === c.id)
        .map((k) => ({ id: k.id, prefix: k.prefix, hash: k.keyHash, expiresAt: isoOrNull(k.expiresAt) })),
    }));
  }
}
