import { Injectable } from '@nestjs/common';
import type { SnapshotCredential, SnapshotIdentitySource, SnapshotKeyManager, SnapshotProxy, SnapshotSecret, SnapshotSigningKey } from '@idm/config-bus';
import { secretIdsIn } from '@idm/policies/schemas';
import { isoOrNull } from '@idm/platform';
import { and, asc, eq, gt, inArray, isNull, notInArray, or, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import { Database } from '../database/database';
import {
  apiKeys,
  apiProxies,
  credentials,
  credentialTokenSettings,
  environmentProjects,
  environments,
  identitySources,
  keyManagers,
  projectSecrets,
  proxyDeployments,
  signingKeys,
} from '../database/schema';

/**
 * `column = ANY($1::uuid[])`: one bind parameter for a page of ids. Drizzle's `inArray` binds
 * each id separately, and building those queries (a parameter object and type checks per id)
 * was the Manager's top frame in a profile of the 100k reconciliation (session 9).
 */
const anyOf = (column: AnyColumn, ids: string[]): SQL => sql`${column} = ANY(${sql.param(ids)}::uuid[])`;

/** Which credentials to read: by id, or one page of some projects' after a cursor. */
export type CredentialSelection = { ids: string[] } | { projectIds: string[]; afterId: string | null };

/** An API key as the credential query aggregates it (timestamps in PostgreSQL's text form). */
interface StoredKey {
  id: string;
  prefix: string;
  hash: string;
  expiresAt: string | null;
}

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
    const bound: SQL | undefined = 'ids' in select ? anyOf(apiProxies.id, select.ids) : select.afterId === null ? undefined : gt(apiProxies.id, select.afterId);
    const rows = await this.database.db
      .select({ proxy: apiProxies, deployedAt: proxyDeployments.deployedAt })
      .from(proxyDeployments)
      .innerJoin(apiProxies, eq(apiProxies.id, proxyDeployments.proxyId))
      .where(and(eq(proxyDeployments.environmentId, environmentId), bound))
      .orderBy(asc(apiProxies.id))
      .limit('ids' in select ? select.ids.length : PAGE);
    const secretsOf = await this.referencedSecrets(rows.map(({ proxy }) => ({ projectId: proxy.projectId, ids: secretIdsIn(proxy.policies) })));
    return rows.map(({ proxy: p, deployedAt }) => {
      const proxy: SnapshotProxy = {
        id: p.id,
        projectId: p.projectId,
        name: p.name,
        basePath: p.basePath,
        upstreamUrl: p.upstreamUrl,
        methods: p.methods,
        policies: p.policies,
        deployedAt: isoOrNull(deployedAt),
      };
      const secrets = secretIdsIn(p.policies).flatMap((id) => secretsOf.get(`${p.projectId}/${id}`) ?? []);
      // Only when there are any: a proxy without secrets keeps the JSON it always had (no churn on upgrade).
      if (secrets.length > 0) proxy.secrets = secrets;
      return proxy;
    });
  }

  /**
   * The project secrets proxies' policies or key managers refer to, by `<projectId>/<secretId>`
   * (each reaches only its own project's secrets), with the versions still usable now. One query.
   */
  private async referencedSecrets(users: { projectId: string; ids: string[] }[]): Promise<Map<string, SnapshotSecret>> {
    const wanted = users.flatMap((p) => p.ids.map((id) => ({ projectId: p.projectId, id })));
    const found = new Map<string, SnapshotSecret>();
    const uuids = [...new Set(wanted.map((w) => w.id))].filter((id) => /^[0-9a-f-]{36}$/i.test(id));
    if (uuids.length === 0) return found;
    const rows = await this.database.db.select().from(projectSecrets).where(inArray(projectSecrets.id, uuids));
    const now = Date.now();
    for (const row of rows) {
      const versions = row.versions.filter((v) => v.retiresAt === null || Date.parse(v.retiresAt) > now);
      found.set(`${row.projectId}/${row.id}`, { id: row.id, kind: row.kind, versions });
    }
    return found;
  }

  /** Projects with at least one proxy deployed in the environment: whose credentials its Gateways get. */
  async visibleProjects(environmentId: string, excludingProxies: string[] = []): Promise<Set<string>> {
    const rows = await this.database.db
      .selectDistinct({ projectId: proxyDeployments.projectId })
      .from(proxyDeployments)
      .where(and(eq(proxyDeployments.environmentId, environmentId), excludingProxies.length ? notInArray(proxyDeployments.proxyId, excludingProxies) : undefined));
    return new Set(rows.map((r) => r.projectId));
  }

  /**
   * Every environment, and whether it shows one of the given credentials' projects now (a proxy
   * of the project deployed there), in one statement: the credentials' projects are read once,
   * then looked up in environment_projects, whose size is projects x environments, never proxies.
   */
  async environmentsShowingCredentials(ids: string[]): Promise<{ id: string; name: string; shows: boolean }[]> {
    const { rows } = (await this.database.db.execute(sql`
      SELECT e.id, e.name, EXISTS (
        SELECT 1 FROM ${environmentProjects} ep
        WHERE ep.environment_id = e.id AND ep.project_id IN (SELECT ${credentials.projectId} FROM ${credentials} WHERE ${anyOf(credentials.id, ids)})) AS shows
      FROM ${environments} e`)) as unknown as { rows: { id: string; name: string; shows: boolean }[] };
    return rows;
  }

  /** Those of `projectIds` with at least one proxy deployed in the environment: one primary-key probe each. */
  async visibleAmong(environmentId: string, projectIds: string[]): Promise<Set<string>> {
    if (projectIds.length === 0) return new Set();
    const rows = await this.database.db
      .select({ projectId: environmentProjects.projectId })
      .from(environmentProjects)
      .where(and(eq(environmentProjects.environmentId, environmentId), anyOf(environmentProjects.projectId, projectIds)));
    return new Set(rows.map((r) => r.projectId));
  }

  /** The given credentials (those that exist), or one page of the given projects' credentials after `afterId`. */
  async credentials(select: CredentialSelection): Promise<SnapshotCredential[]> {
    return (await this.readCredentials(select, null)).map((r) => r.credential);
  }

  /**
   * Like `credentials`, with whether `environmentId` shows each (its project has a proxy deployed
   * there), in the same statement: what a credential change reads per environment.
   */
  async credentialsIn(environmentId: string, select: CredentialSelection): Promise<{ credential: SnapshotCredential; shown: boolean }[]> {
    return this.readCredentials(select, environmentId);
  }

  /**
   * One statement per page: the credential rows, their keys (a JSON array from the keys' index),
   * their token settings (a join on the primary key) and, given an environment, the visibility
   * of their projects. A credential change used to take four round trips here (credentials,
   * keys, settings, visibility); at the 1M bench the Manager's cost per change is its queries.
   */
  private async readCredentials(select: CredentialSelection, environmentId: string | null): Promise<{ credential: SnapshotCredential; shown: boolean }[]> {
    if ('ids' in select ? select.ids.length === 0 : select.projectIds.length === 0) return [];
    const where =
      'ids' in select
        ? anyOf(credentials.id, select.ids)
        : and(anyOf(credentials.projectId, select.projectIds), select.afterId === null ? undefined : gt(credentials.id, select.afterId));
    const limit = 'ids' in select ? select.ids.length : PAGE;
    // Keys as the driver would read them: `expires_at::text` is the text a timestamptz column arrives as, decoded below like drizzle decodes one.
    const keys = sql<StoredKey[]>`COALESCE((
      SELECT json_agg(json_build_object('id', k.id, 'prefix', k.prefix, 'hash', k.key_hash, 'expiresAt', k.expires_at::text) ORDER BY k.id)
      FROM ${apiKeys} k WHERE k.credential_id = ${credentials.id}), '[]'::json)`;
    // Uncorrelated (one InitPlan): the projects of the same page that the environment shows, each
    // looked up once in environment_projects, not once per credential. Inside, "credentials"
    // names the subquery's own scan, so the page's condition applies to it.
    const shown =
      environmentId === null
        ? sql<boolean>`true`
        : sql<boolean>`${credentials.projectId} = ANY(ARRAY(
            SELECT ep.project_id FROM ${environmentProjects} ep WHERE ep.environment_id = ${environmentId} AND ep.project_id IN (
              SELECT ${credentials.projectId} FROM ${credentials} WHERE ${where} ORDER BY ${credentials.id} LIMIT ${limit})))`;
    const rows = await this.database.db
      .select({ c: credentials, keys, tokenSettings: credentialTokenSettings.settings, shown })
      .from(credentials)
      .leftJoin(credentialTokenSettings, eq(credentialTokenSettings.credentialId, credentials.id))
      .where(where)
      .orderBy(asc(credentials.id))
      .limit(limit);
    return rows.map(({ c, keys, tokenSettings, shown }) => ({
      shown,
      credential: {
        id: c.id,
        projectId: c.projectId,
        username: c.username,
        passwordHash: c.passwordHash,
        enabled: c.enabled,
        expiresAt: isoOrNull(c.expiresAt),
        apiKeys: (typeof keys === 'string' ? (JSON.parse(keys) as StoredKey[]) : keys).map((k) => ({
          id: k.id,
          prefix: k.prefix,
          hash: k.hash,
          expiresAt: k.expiresAt === null ? null : new Date(k.expiresAt).toISOString(),
        })),
        roles: c.roles,
        metadata: c.metadata,
        access: c.access,
        tokenSettings: tokenSettings ?? null,
        digestHa1: c.digestHa1,
        truststore: c.truststore,
        endUser: c.endUser === null ? null : { ...c.endUser, email: c.email ?? '', name: c.fullName, identitySourceId: c.endUser.identitySourceId ?? null },
      },
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

  /**
   * Every key manager, secrets still sealed: the list is short and the same for every
   * environment; a Gateway lets a proxy use only System ones and its own project's.
   */
  async keyManagers(): Promise<SnapshotKeyManager[]> {
    const rows = await this.database.db.select().from(keyManagers).orderBy(asc(keyManagers.id));
    const secretsOf = await this.referencedSecrets(
      rows.flatMap((k) => {
        const ids = [k.settings.clientSecretId, k.settings.sharedSecretId].filter((id): id is string => typeof id === 'string');
        return k.projectId !== null && ids.length > 0 ? [{ projectId: k.projectId, ids }] : [];
      }),
    );
    const ref = (k: (typeof rows)[number], id: string | null | undefined) => (id ? secretsOf.get(`${k.projectId}/${id}`) : undefined);
    return rows.map((k) => ({
      id: k.id,
      name: k.name,
      type: k.type,
      projectId: k.projectId,
      issuer: k.issuer,
      discoveryUrl: k.settings.discoveryUrl,
      jwksUri: k.settings.jwksUri,
      introspectionEndpoint: k.settings.introspectionEndpoint,
      clientId: k.settings.clientId,
      clientSecret: k.clientSecret,
      // Only when set: a key manager without one keeps the JSON it always had (no churn on upgrade).
      ...(ref(k, k.settings.clientSecretId) && { clientSecretRef: ref(k, k.settings.clientSecretId) }),
      sharedSecret: k.sharedSecret,
      // Every usable version: a token signed with the previous one verifies until that one retires.
      ...(ref(k, k.settings.sharedSecretId) && { sharedSecretRef: ref(k, k.settings.sharedSecretId) }),
      algorithms: k.settings.algorithms,
      audiences: k.settings.audiences,
      clockSkewSeconds: k.settings.clockSkewSeconds,
      requiredClaims: k.settings.requiredClaims,
      claimMappings: k.settings.claimMappings,
      tokenTypes: k.settings.tokenTypes,
      tls: { caPem: k.settings.tls.caPem, clientCertificatePem: k.settings.tls.clientCertificatePem, clientKey: k.tlsClientKey },
      ...(k.settings.timing && { timing: { ...k.settings.timing } }),
      enabled: k.enabled,
    }));
  }

  /** Every identity source, its secret still sealed: a short list, the same for every environment. */
  async identitySources(): Promise<SnapshotIdentitySource[]> {
    const rows = await this.database.db.select().from(identitySources).orderBy(asc(identitySources.id));
    // An oidc source's client secret may be a project secret of its own project (the Manager refuses others on save).
    const secretIdOf = (r: (typeof rows)[number]) => (r.type === 'oidc' ? (r.config as { clientSecretId?: string }).clientSecretId : undefined);
    const secretsOf = await this.referencedSecrets(rows.flatMap((r) => (r.projectId !== null && secretIdOf(r) ? [{ projectId: r.projectId, ids: [secretIdOf(r)!] }] : [])));
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      type: r.type,
      projectId: r.projectId,
      config: r.config as unknown as Record<string, unknown>,
      secret: r.secret,
      ...(secretIdOf(r) && secretsOf.has(`${r.projectId}/${secretIdOf(r)}`) && { clientSecretRef: secretsOf.get(`${r.projectId}/${secretIdOf(r)}`) }),
      roleMappings: r.roleMappings,
      timeoutMs: r.timeoutMs,
      cacheTtlSeconds: r.cacheTtlSeconds,
      enabled: r.enabled,
    }));
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
