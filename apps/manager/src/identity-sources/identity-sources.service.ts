import { Injectable } from '@nestjs/common';
import {
  identitySourceConfigSchema,
  identitySourceEndpoint,
  ldapReferralEndpoints,
  type LdapSourceConfig,
  samlSourceConfigSchema,
  type SamlSourceConfig,
  SecretBox,
  type CreateIdentitySource,
  type IdentitySource,
  type IdentitySourceConfig,
  type IdentitySourceType,
  type UpdateIdentitySource,
} from '@idm/domain';
import { parseIdpMetadata, SamlMetadataError, type IdpMetadata } from '@idm/identity-sources';
import { UpstreamPolicyCheck } from '../api-proxies/upstream-policy.check';
import { ChangeWriter } from '../audit/change-writer';
import type { Reads } from '../database/database';
import { PermissionService } from '../governance/permission.service';
import { requireProject } from '../governance/project-scope';
import { ProblemError } from '../problems/problem.error';
import { IdentitySourceRepository, type IdentitySourceRow } from '../repositories/identity-source.repository';
import { OperatorLoginCheck } from '../operator-sso/operator-login.check';
import { OperatorRepository } from '../repositories/operator.repository';
import { RoleBindingRepository } from '../repositories/role-binding.repository';
import { IdentitySourceSecretCheck } from './identity-source-secret.check';
import { identitySourceView } from './identity-source.view';
import { requireSyncable } from './identity-source-sync.check';
import { requireSamlSpKey } from './saml-sp-key.check';
import { SourceEndUsers } from './source-end-users';

/**
 * Identity sources: external directories (LDAP, SQL, REST) that check end users' passwords at the
 * Gateways, and external OpenID Providers (oidc) users sign in with from the login page. System ones (no project) need `identity-source:write` at System scope and may be
 * named by every project's proxies; a project's own need it at that project. Every change is
 * audited (the sealed secret masked) and published to every environment's Gateways.
 */
@Injectable()
export class IdentitySourcesService {
  constructor(
    private readonly sources: IdentitySourceRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
    private readonly secrets: SecretBox,
    private readonly upstreams: UpstreamPolicyCheck,
    private readonly secretUse: IdentitySourceSecretCheck,
    private readonly endUsers: SourceEndUsers,
    private readonly operatorLogin: OperatorLoginCheck,
    private readonly operators: OperatorRepository,
    private readonly bindings: RoleBindingRepository,
  ) {}

  /** The source's server is held to the upstream address policy (no loopback, link-local, metadata or installation endpoint unless allowed), as key managers' URLs are. */
  private async requireAllowedEndpoint(type: IdentitySourceType, config: IdentitySourceConfig): Promise<void> {
    const endpoint = identitySourceEndpoint(type, config);
    await this.upstreams.requireEndpoint(endpoint.host, endpoint.port, endpoint.field);
    // The servers an LDAP source may follow referrals to are connected to as well: the same policy.
    if (type === 'ldap') for (const e of ldapReferralEndpoints(config as LdapSourceConfig)) await this.upstreams.requireEndpoint(e.host, e.port, e.field);
  }

  async list(): Promise<IdentitySource[]> {
    this.permissions.checkAnywhere('identity-source:read');
    const rows = await this.sources.list(this.permissions.readFilter('identity-source:read'), true);
    return rows.map(identitySourceView);
  }

  async get(id: string): Promise<IdentitySource> {
    this.permissions.checkAnywhere('identity-source:read');
    const row = await this.find(id);
    if (row.projectId !== null) this.permissions.check('identity-source:read', { projectId: row.projectId });
    return identitySourceView(row);
  }

  async create(input: CreateIdentitySource): Promise<IdentitySource> {
    this.permissions.check('identity-source:write', { projectId: input.projectId });
    requireSyncable(input.type, input.config, input.sync);
    if (input.type === 'saml') requireSamlSpKey(input.config, input.secret ?? null);
    await this.requireAllowedEndpoint(input.type, input.config);
    return this.changes.write(async (tx) => {
      if (input.projectId !== null) await requireProject(tx, input.projectId);
      await this.requireUniqueName(tx, input.name);
      await this.secretUse.require(tx, input.type, input.projectId, input.config, input.secret !== undefined);
      await this.operatorLogin.require(tx, input.projectId, input.operatorLogin);
      const row = await this.sources.insert(tx, {
        name: input.name,
        description: input.description ?? null,
        type: input.type,
        projectId: input.projectId,
        config: input.config,
        secret: input.secret === undefined ? null : this.secrets.seal(input.secret),
        roleMappings: input.roleMappings,
        timeoutMs: input.timeoutMs,
        cacheTtlSeconds: input.cacheTtlSeconds,
        enabled: input.enabled,
        operatorLogin: input.operatorLogin,
        sync: input.sync,
      });
      return { result: identitySourceView(row), change: { action: 'create', entityKind: 'identity_source', entityId: row.id, projectId: row.projectId, before: null, after: row } };
    });
  }

  async update(id: string, input: UpdateIdentitySource): Promise<IdentitySource> {
    if (input.config !== undefined) {
      // Before the transaction (DNS can be slow); the type never changes, so the stored one decides the config's shape.
      const current = await this.find(id);
      this.permissions.check('identity-source:write', { projectId: current.projectId });
      const parsed = identitySourceConfigSchema(current.type).safeParse(input.config);
      if (parsed.success) await this.requireAllowedEndpoint(current.type, parsed.data);
    }
    return this.changes.write(async (tx) => {
      const row = await this.find(id, tx, true);
      this.permissions.check('identity-source:write', { projectId: row.projectId });
      let config = row.config;
      if (input.config !== undefined) {
        // The body's config is checked against the source's own type (an ldap source takes no sql settings).
        const parsed = identitySourceConfigSchema(row.type).safeParse(input.config);
        if (!parsed.success) throw ProblemError.validation(parsed.error.issues.map((i) => ({ path: ['config', ...i.path].join('.'), message: i.message })));
        config = parsed.data;
      }
      if (input.name !== undefined && input.name !== row.name) await this.requireUniqueName(tx, input.name);
      const secret = input.secret === undefined ? row.secret : input.secret === null ? null : this.secrets.seal(input.secret);
      await this.secretUse.require(tx, row.type, row.projectId, config, secret !== null);
      // The SP key and its certificate go together: checked whenever either may have changed.
      if (row.type === 'saml' && (input.config !== undefined || input.secret !== undefined))
        requireSamlSpKey(config as SamlSourceConfig, input.secret === undefined ? this.openedSecret(row) : input.secret);
      const operatorLogin = input.operatorLogin === undefined ? row.operatorLogin : input.operatorLogin;
      const sync = input.sync === undefined ? row.sync : input.sync;
      // Also when only the config changed: a switch to direct bind leaves nothing to sync with.
      requireSyncable(row.type, config, sync);
      // Rechecked only when given: the saver answers for the grants they write, not for ones saved before.
      if (input.operatorLogin !== undefined) await this.operatorLogin.require(tx, row.projectId, operatorLogin);
      const updated = await this.sources.update(tx, id, {
        name: input.name ?? row.name,
        description: input.description === undefined ? row.description : input.description,
        config,
        secret,
        roleMappings: input.roleMappings ?? row.roleMappings,
        timeoutMs: input.timeoutMs ?? row.timeoutMs,
        cacheTtlSeconds: input.cacheTtlSeconds ?? row.cacheTtlSeconds,
        enabled: input.enabled ?? row.enabled,
        operatorLogin,
        sync,
        updatedAt: new Date(),
      });
      return {
        result: identitySourceView(updated),
        change: { action: 'update', entityKind: 'identity_source', entityId: id, projectId: row.projectId, before: row, after: updated },
      };
    });
  }

  /**
   * A `saml` source's IdP settings from the IdP's metadata: entityID, SSO URL and signing
   * certificates replace the stored ones, the rest of the config stays; checked as a PATCH of the
   * config would be (schema, upstream address policy, the SP key) and audited as an update.
   * Metadata that cannot be read is a 400 with its reason code, and nothing is written.
   */
  async importSamlMetadata(id: string, metadataXml: string): Promise<IdentitySource> {
    const current = await this.find(id);
    this.permissions.check('identity-source:write', { projectId: current.projectId });
    if (current.type !== 'saml')
      throw new ProblemError(
        422,
        'identity_source_not_saml',
        'Not a SAML identity source',
        `the identity source '${current.name}' is of type ${current.type}: only a saml source takes IdP metadata`,
      );
    let imported: IdpMetadata;
    try {
      imported = parseIdpMetadata(metadataXml);
    } catch (err) {
      if (!(err instanceof SamlMetadataError)) throw err;
      throw new ProblemError(400, err.reason, 'The IdP metadata cannot be imported', err.detail, [{ path: 'metadataXml', message: err.detail }]);
    }
    // The metadata's values as the admin's own config would be: held to the same rules (an http:// SSO URL to a remote host is refused).
    const parsed = samlSourceConfigSchema.safeParse({ ...(current.config as SamlSourceConfig), ...imported });
    if (!parsed.success) throw ProblemError.validation(parsed.error.issues.map((i) => ({ path: ['config', ...i.path].join('.'), message: i.message })));
    return this.update(id, { config: parsed.data });
  }

  /**
   * Deletes the source and disables the end users it provisioned, in one transaction. They stay
   * (their audit trail, consents and ids remain meaningful) but can obtain nothing more: no source
   * checks them any longer (a provisioned user is only ever checked by its own), and disabled,
   * their refresh tokens and SSO sessions end at next use instead of outliving the directory that
   * vouched for them. An operator may delete them, or re-enable one and give it a password.
   * (Disabling a source only pauses sign-ins through it: its users are left as they are.)
   */
  async remove(id: string): Promise<void> {
    await this.changes.batch(async () => {
      await this.changes.write(async (tx) => {
        const row = await this.find(id, tx, true);
        this.permissions.check('identity-source:write', { projectId: row.projectId });
        // Its federated operators go with it (foreign key), and so must their bindings (subjects are no foreign keys).
        for (const operatorId of await this.operators.idsOfSource(tx, id)) await this.bindings.deleteForSubject(tx, operatorId);
        await this.sources.delete(tx, id);
        return { result: undefined, change: { action: 'delete', entityKind: 'identity_source', entityId: id, projectId: row.projectId, before: row, after: null } };
      });
      await this.endUsers.disableAllOf(id);
    });
  }

  /** The stored secret in clear, to check it against a new config (a secret the master keys no longer open counts as none). */
  private openedSecret(row: IdentitySourceRow): string | null {
    if (row.secret === null) return null;
    try {
      return this.secrets.open(row.secret);
    } catch {
      return null;
    }
  }

  private async find(id: string, db?: Reads, lock = false): Promise<IdentitySourceRow> {
    const row = await this.sources.findById(id, db, lock);
    if (!row) throw ProblemError.notFound('identity_source', id);
    return row;
  }

  /** Names are unique installation-wide: proxies and bundles name sources by name. */
  private async requireUniqueName(db: Reads, name: string): Promise<void> {
    if (await this.sources.findByName(name, db)) throw ProblemError.conflict('identity_source_name_taken', `an identity source named '${name}' exists`, 'name');
  }
}
