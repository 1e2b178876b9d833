import { Injectable } from '@nestjs/common';
import type { SnapshotCredential, SnapshotProxy, SnapshotSigningKey } from '@idm/config-bus';
import { isoOrNull } from '@idm/platform';
import { and, asc, eq, gt, inArray, isNull, notInArray, or, type SQL } from 'drizzle-orm';
import { Database } from '../database/database';
import { apiKeys, apiProxies, credentials, credentialTokenSettings, proxyDeployments, signingKeys } from '../database/schema';

/** Rows per query when paging through an environment (keyset pagination by id). */
export const PAGE = 1_000;

/**
 * What Gateways see of the system of record, read as their entities (the snapshot schemas of
 * @idm/config-bus): by id for a change, page by page for a reconciliation. Every query is bounded
 * by its ids or its page and joins through indexes, so nothing here reads a whole table at once.
 */
@Injectable()
export class EnvironmentEntities {
  constructor(private readonly database: Database) {}

  /** Proxies deployed in the environment, the given ids only, or one page of all after `afterId`. */
  async deployedProxies(environmentId: string, select: { ids: string[] } | { afterId: string | null }): Promise<SnapshotProxy[]> {
    if ('ids' in select && select.ids.length === 0) return [];
    const bound: SQL | undefined = 'ids' in select ? inArray(apiProxies.id, select.ids) : select.afterId === null ? undefined : gt(apiProxies.id, select.afterId);
    const rows = await this.database.db
      .select({ proxy: apiProxies, deployedAt: proxyDeployments.deployedAt })
      .from(proxyDeployments)
      .innerJoin(apiProxies, eq(apiProxies.id, proxyDeployments.proxyId))
      .where(and(eq(proxyDeployments.environmentId, environmentId), bound))
      .orderBy(asc(apiProxies.id))
      .limit('ids' in select ? select.ids.length : PAGE);
    return rows.map(({ proxy: p, deployedAt }) => ({
      id: p.id,
      projectId: p.projectId,
      name: p.name,
      basePath: p.basePath,
      upstreamUrl: p.upstreamUrl,
      methods: p.methods,
      policies: p.policies,
      deployedAt: isoOrNull(deployedAt),
    }));
  }

  /** Projects with at least one proxy deployed in the environment: whose credentials its Gateways get. */
  async visibleProjects(environmentId: string, excludingProxies: string[] = []): Promise<Set<string>> {
    const rows = await this.database.db
      .selectDistinct({ projectId: apiProxies.projectId })
      .from(proxyDeployments)
      .innerJoin(apiProxies, eq(apiProxies.id, proxyDeployments.proxyId))
      .where(and(eq(proxyDeployments.environmentId, environmentId), excludingProxies.length ? notInArray(apiProxies.id, excludingProxies) : undefined));
    return new Set(rows.map((r) => r.projectId));
  }

  /** The given credentials (those that exist), or one page of the given projects' credentials after `afterId`. */
  async credentials(select: { ids: string[] } | { projectIds: string[]; afterId: string | null }): Promise<SnapshotCredential[]> {
    if ('ids' in select ? select.ids.length === 0 : select.projectIds.length === 0) return [];
    const where =
      'ids' in select
        ? inArray(credentials.id, select.ids)
        : and(inArray(credentials.projectId, select.projectIds), select.afterId === null ? undefined : gt(credentials.id, select.afterId));
    const db = this.database.db;
    const rows = await db
      .select()
      .from(credentials)
      .where(where)
      .orderBy(asc(credentials.id))
      .limit('ids' in select ? select.ids.length : PAGE);
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const [keys, settings] = await Promise.all([
      db.select().from(apiKeys).where(inArray(apiKeys.credentialId, ids)).orderBy(asc(apiKeys.id)),
      db.select().from(credentialTokenSettings).where(inArray(credentialTokenSettings.credentialId, ids)),
    ]);
    // Grouped once: linear in credentials + keys, never one scan of all keys per credential.
    const keysOf = new Map<string, SnapshotCredential['apiKeys']>();
    for (const k of keys) {
      const list = keysOf.get(k.credentialId) ?? [];
      list.push({ id: k.id, prefix: k.prefix, hash: k.keyHash, expiresAt: isoOrNull(k.expiresAt) });
      keysOf.set(k.credentialId, list);
    }
    const settingsOf = new Map(settings.map((s) => [s.credentialId, s.settings]));
    return rows.map((c) => ({
      id: c.id,
      projectId: c.projectId,
      username: c.username,
      passwordHash: c.passwordHash,
      enabled: c.enabled,
      expiresAt: isoOrNull(c.expiresAt),
      apiKeys: keysOf.get(c.id) ?? [],
      roles: c.roles,
      metadata: c.metadata,
      access: c.access,
      tokenSettings: settingsOf.get(c.id) ?? null,
      digestHa1: c.digestHa1,
      truststore: c.truststore,
    }));
  }

  /** Ids of the given project's credentials, one page after `afterId`. */
  async credentialIdsOfProject(projectId: string, afterId: string | null): Promise<string[]> {
    const rows = await this.database.db
      .select({ id: credentials.id })
      .from(credentials)
      .where(and(eq(credentials.projectId, projectId), afterId === null ? undefined : gt(credentials.id, afterId)))
      .orderBy(asc(credentials.id))
      .limit(PAGE);
    return rows.map((r) => r.id);
  }

  /** Keys still published: the signer, any key waiting to activate, and retired keys whose tokens may live. */
  async signingKeys(environmentId: string): Promise<SnapshotSigningKey[]> {
    const rows = await this.database.db
      .select()
      .from(signingKeys)
      .where(and(eq(signingKeys.environmentId, environmentId), or(isNull(signingKeys.publishedUntil), gt(signingKeys.publishedUntil, new Date()))))
      .orderBy(asc(signingKeys.activatesAt));
    return rows.map((k) => ({
      kid: k.kid,
      algorithm: k.algorithm,
      publicJwk: k.publicJwk,
      privateKey: k.privateKey,
      activatesAt: k.activatesAt.toISOString(),
      publishedUntil: isoOrNull(k.publishedUntil),
    }));
  }
}
