import { EndUserLastLogins, OidcConsents, createRedisClient, type OidcConsent } from '@idm/config-bus';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { SecretBox, type ClientConsentPage, type CreateEndUser, type ListClientConsentsQuery, type EndUser, type ListEndUsersQuery, type UpdateEndUser } from '@idm/domain';
import type Redis from 'ioredis';
import { ChangeWriter } from '../audit/change-writer';
import { PasswordHasher } from '../auth/password-hasher';
import { MANAGER_CONFIG, type ManagerConfig } from '../config/manager-config';
import { sealDigestHa1 } from '../credentials/digest-ha1';
import { Database, type Reads } from '../database/database';
import { PermissionService } from '../governance/permission.service';
import { requireProject, requireTeamInProject } from '../governance/project-scope';
import { ProblemError } from '../problems/problem.error';
import { CredentialRepository, type CredentialRow } from '../repositories/credential.repository';
import { EnvironmentRepository } from '../repositories/environment.repository';
import { IdentitySourceRepository } from '../repositories/identity-source.repository';

type Row = CredentialRow & { endUser: NonNullable<CredentialRow['endUser']> };
const isEndUser = (row: CredentialRow | undefined): row is Row => row !== undefined && row.endUser !== null;
/** The audit diff's view: hashes are masked there; the sealed Digest HA1 changes exactly when the password does. */
const auditRow = ({ digestHa1: _, ...c }: CredentialRow) => c;

/**
 * End users of a project: credentials with an end-user profile (docs/architecture.md, "End
 * users"). Permissions are the credential's (`credential:read` / `credential:write` at the
 * project or team), changes are audited as `end_user.*` and published like credential changes.
 */
@Injectable()
export class EndUsersService implements OnApplicationShutdown {
  private readonly log = new Logger(EndUsersService.name);
  private readonly redis: Redis;
  private readonly lastLogins: EndUserLastLogins;
  private readonly consents: OidcConsents;

  constructor(
    @Inject(MANAGER_CONFIG) config: ManagerConfig,
    private readonly database: Database,
    private readonly repository: CredentialRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
    private readonly hasher: PasswordHasher,
    private readonly secrets: SecretBox,
    private readonly identitySources: IdentitySourceRepository,
    private readonly environments: EnvironmentRepository,
  ) {
    // Last logins are runtime state in Redis: while it is away they read as unknown, never as an error.
    this.redis = createRedisClient(config.redis, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 2_000,
      connectionName: 'idm-manager-end-users',
    });
    this.redis.on('error', () => undefined);
    this.redis.connect().catch(() => undefined);
    this.lastLogins = new EndUserLastLogins(this.redis);
    this.consents = new OidcConsents(this.redis);
  }

  /** The consents the user gave OIDC clients, in every environment (Redis: 503 while it is away). */
  async consentsOf(projectId: string, id: string): Promise<OidcConsent[]> {
    const row = await this.find(projectId, id);
    this.permissions.check('credential:read', row);
    const names = await this.environments.names();
    return consentStoreCall(() => this.consents.of(names, id));
  }

  /**
   * Who consented to one OIDC client: the next `limit` end users the reader may see (by username
   * after `after`), each looked up in every environment. The client must be an OIDC client of the
   * project the reader may see (404 otherwise, as a missing one).
   */
  async consentsToClient(projectId: string, clientId: string, query: ListClientConsentsQuery): Promise<ClientConsentPage> {
    const client = await this.repository.find(projectId, clientId);
    const settings = client && (await this.repository.findTokenSettings(client.id));
    if (!client || !this.permissions.can('credential:read', client) || !isOidcClient(settings?.settings)) {
      this.permissions.check('credential:read', { projectId });
      throw ProblemError.notFound('oidc_client', clientId);
    }
    const visible = this.repository.readableIn(this.permissions.readFilter('credential:read'), projectId)!;
    const users = await this.repository.endUserPage(visible, query.after, query.limit, undefined);
    const names = await this.environments.names();
    const consents = await consentStoreCall(() =>
      this.consents.toClient(
        names,
        users.map((u) => u.id),
        clientId,
      ),
    );
    const byId = new Map(users.map((u) => [u.id, u.username]));
    return {
      items: consents
        .map((c) => ({ userId: c.credentialId, username: byId.get(c.credentialId)!, environment: c.environment, scopes: c.scopes }))
        .sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0)),
      next: users.length === query.limit ? users[users.length - 1].username : null,
    };
  }

  /** Revokes the user's consent to one client everywhere: the next sign-in through it asks again. Audited. */
  async revokeConsent(projectId: string, id: string, clientId: string): Promise<void> {
    const row = await this.find(projectId, id);
    this.permissions.check('credential:write', row);
    const names = await this.environments.names();
    await this.changes.write(async () => {
      // Inside the audited change: a revocation Redis refused leaves no audit event.
      const revoked = await consentStoreCall(() => this.consents.revoke(names, id, clientId));
      if (revoked.length === 0) throw ProblemError.notFound('consent', clientId);
      return {
        result: undefined,
        change: { action: 'revoke', entityKind: 'end_user_consent', entityId: id, projectId, teamId: row.teamId, before: { clientId, consents: revoked }, after: null },
      };
    });
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }

  async list(projectId: string, query: ListEndUsersQuery): Promise<EndUser[]> {
    const visible = this.repository.readableIn(this.permissions.readFilter('credential:read'), projectId);
    if (!visible) this.permissions.check('credential:read', { projectId });
    await requireProject(this.database.db, projectId);
    return this.views((await this.repository.endUserPage(visible!, query.after, query.limit, query.search)) as Row[]);
  }

  async get(projectId: string, id: string): Promise<EndUser> {
    const row = await this.find(projectId, id);
    this.permissions.check('credential:read', row);
    return (await this.views([row]))[0];
  }

  async create(projectId: string, input: CreateEndUser): Promise<EndUser> {
    this.permissions.check('credential:write', { projectId, teamId: input.teamId });
    // Checked again in the transaction; first here, so a wrong project costs no argon2 hash.
    await requireProject(this.changes.reads(), projectId);
    await requireTeamInProject(this.changes.reads(), projectId, input.teamId);
    const passwordHash = input.password ? await this.hasher.hash(input.password) : null;
    return this.changes.write(async (tx) => {
      await requireProject(tx, projectId);
      await requireTeamInProject(tx, projectId, input.teamId);
      const row = (await this.repository.insert(tx, {
        projectId,
        teamId: input.teamId,
        username: input.username,
        passwordHash,
        digestHa1: input.password ? sealDigestHa1(this.secrets, input.username, input.password) : null,
        enabled: input.enabled,
        email: input.email,
        fullName: input.name,
        roles: input.roles,
        endUser: {
          emailVerified: input.emailVerified,
          givenName: input.givenName,
          familyName: input.familyName,
          locale: input.locale,
          pictureUrl: input.pictureUrl,
          attributes: input.attributes,
          locked: false,
        },
      })) as Row;
      return {
        result: toEndUser(row, null),
        change: { action: 'create', entityKind: 'end_user', entityId: row.id, projectId, teamId: row.teamId, before: null, after: auditRow(row) },
      };
    });
  }

  async update(projectId: string, id: string, input: UpdateEndUser): Promise<EndUser> {
    if (typeof input.password === 'string') this.permissions.check('credential:write', await this.find(projectId, id, this.changes.reads()));
    const passwordHash = input.password === undefined ? undefined : input.password === null ? null : await this.hasher.hash(input.password);
    const updated = await this.changes.write(async (tx) => {
      const before = await this.find(projectId, id, tx, true);
      this.permissions.check('credential:write', before);
      const profile = before.endUser;
      const row = (await this.repository.update(tx, id, {
        ...(passwordHash === undefined ? {} : { passwordHash, digestHa1: input.password ? sealDigestHa1(this.secrets, before.username, input.password) : null }),
        ...(input.enabled === undefined ? {} : { enabled: input.enabled }),
        ...(input.email === undefined ? {} : { email: input.email }),
        ...(input.name === undefined ? {} : { fullName: input.name }),
        ...(input.roles === undefined ? {} : { roles: input.roles }),
        endUser: {
          emailVerified: input.emailVerified ?? (input.email !== undefined && input.email.toLowerCase() !== before.email?.toLowerCase() ? false : profile.emailVerified),
          givenName: input.givenName === undefined ? profile.givenName : input.givenName,
          familyName: input.familyName === undefined ? profile.familyName : input.familyName,
          locale: input.locale === undefined ? profile.locale : input.locale,
          pictureUrl: input.pictureUrl === undefined ? profile.pictureUrl : input.pictureUrl,
          attributes: input.attributes ?? profile.attributes,
          locked: input.locked ?? profile.locked,
          // The link to the source is the provisioning's, never an operator's edit.
          identitySourceId: profile.identitySourceId ?? null,
        },
        updatedAt: new Date(),
      })) as Row;
      return { result: row, change: { action: 'update', entityKind: 'end_user', entityId: id, projectId, teamId: row.teamId, before: auditRow(before), after: auditRow(row) } };
    });
    return (await this.views([updated]))[0];
  }

  async remove(projectId: string, id: string): Promise<void> {
    await this.changes.write(async (tx) => {
      const before = await this.find(projectId, id, tx, true);
      this.permissions.check('credential:write', before);
      await this.repository.delete(tx, id);
      return { result: undefined, change: { action: 'delete', entityKind: 'end_user', entityId: id, projectId, teamId: before.teamId, before: auditRow(before), after: null } };
    });
    await this.lastLogins.forget(id).catch(() => undefined);
    await this.consents.forget(await this.environments.names(), id).catch(() => undefined);
  }

  /** A credential without a profile is not an end user: 404 here, as for another project's. */
  private async find(projectId: string, id: string, db?: Reads, lock = false): Promise<Row> {
    const row = await this.repository.find(projectId, id, db, lock);
    if (!isEndUser(row)) {
      this.permissions.check('credential:read', { projectId });
      throw ProblemError.notFound('end_user', id);
    }
    return row;
  }

  private async views(rows: Row[]): Promise<EndUser[]> {
    const lastLogins = await this.lastLogins.of(rows.map((r) => r.id)).catch((err: unknown) => {
      this.log.warn(`last logins unavailable: ${err instanceof Error ? err.message : String(err)}`);
      return new Map<string, Date>();
    });
    const linked = rows.some((r) => r.endUser.identitySourceId) ? await this.identitySources.all() : [];
    const sourceNames = new Map(linked.map((s) => [s.id, s.name]));
    return rows.map((r) => toEndUser(r, lastLogins.get(r.id) ?? null, sourceNames));
  }
}

/** Token settings that make the credential an OIDC client (an authorization-code relying party). */
export const isOidcClient = (settings: Record<string, unknown> | undefined): boolean => typeof settings?.oidc === 'object' && settings.oidc !== null;

/** `sourceNames`: identity source names by id (a deleted source shows by its id). */
function toEndUser(r: Row, lastLoginAt: Date | null, sourceNames: ReadonlyMap<string, string> = new Map()): EndUser {
  const sourceId = r.endUser.identitySourceId ?? null;
  return {
    id: r.id,
    projectId: r.projectId,
    teamId: r.teamId,
    username: r.username,
    hasPassword: r.passwordHash !== null,
    email: r.email ?? '',
    emailVerified: r.endUser.emailVerified,
    name: r.fullName,
    givenName: r.endUser.givenName,
    familyName: r.endUser.familyName,
    locale: r.endUser.locale,
    pictureUrl: r.endUser.pictureUrl,
    attributes: r.endUser.attributes,
    roles: r.roles,
    enabled: r.enabled,
    locked: r.endUser.locked,
    identitySource: sourceId === null ? null : { id: sourceId, name: sourceNames.get(sourceId) ?? sourceId },
    lastLoginAt: lastLoginAt?.toISOString() ?? null,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

async function consentStoreCall<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof ProblemError) throw err;
    throw new ProblemError(503, 'consent_store_unavailable', 'Consent store unavailable', 'consents cannot be read or revoked while Redis is unreachable', undefined, undefined, {
      'retry-after': '5',
    });
  }
}
