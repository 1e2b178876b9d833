import { Injectable } from '@nestjs/common';
import { keyManagerProblems, SecretBox, type CreateKeyManager, type KeyManager, type UpdateKeyManager } from '@idm/domain';
import { UpstreamPolicyCheck } from '../api-proxies/upstream-policy.check';
import { ChangeWriter } from '../audit/change-writer';
import type { Reads } from '../database/database';
import { PermissionService } from '../governance/permission.service';
import { requireProject } from '../governance/project-scope';
import { ProblemError } from '../problems/problem.error';
import { KeyManagerRepository, type KeyManagerRow, type KeyManagerSettings } from '../repositories/key-manager.repository';
import { KeyManagerSecretCheck } from './key-manager-secret.check';
import { keyManagerView } from './key-manager.view';

/**
 * Key managers: issuers the Gateways trust. System ones (no project) need `key-manager:write` at
 * System scope and may be used by every project; a project's own need it at that project. Every
 * change is audited (sealed secrets masked) and published to every environment's Gateways.
 */
@Injectable()
export class KeyManagersService {
  constructor(
    private readonly keyManagers: KeyManagerRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
    private readonly secrets: SecretBox,
    private readonly upstreams: UpstreamPolicyCheck,
    private readonly secretUse: KeyManagerSecretCheck,
  ) {}

  /** System key managers (to anyone who may read key managers somewhere) and those of readable projects. */
  async list(): Promise<KeyManager[]> {
    this.permissions.checkAnywhere('key-manager:read');
    const rows = await this.keyManagers.list(this.permissions.readFilter('key-manager:read'), true);
    return rows.map(keyManagerView);
  }

  async get(id: string): Promise<KeyManager> {
    this.permissions.checkAnywhere('key-manager:read');
    const row = await this.find(id);
    if (row.projectId !== null) this.permissions.check('key-manager:read', { projectId: row.projectId });
    return keyManagerView(row);
  }

  async create(input: CreateKeyManager): Promise<KeyManager> {
    this.permissions.check('key-manager:write', { projectId: input.projectId });
    await this.requireReachable(input);
    return this.changes.write(async (tx) => {
      if (input.projectId !== null) await requireProject(tx, input.projectId);
      await this.requireUnique(tx, input.name, input.issuer ?? null);
      await this.secretUse.require(tx, input.projectId, input.clientSecretId);
      await this.secretUse.require(tx, input.projectId, input.sharedSecretId, 'sharedSecretId', input.algorithms);
      const row = await this.keyManagers.insert(tx, {
        name: input.name,
        description: input.description ?? null,
        type: input.type,
        projectId: input.projectId,
        issuer: input.issuer ?? null,
        settings: settingsOf(input),
        clientSecret: this.sealed(input.clientSecret),
        sharedSecret: this.sealed(input.sharedSecret),
        tlsClientKey: this.sealed(input.tls.clientKeyPem),
        enabled: input.enabled,
      });
      return { result: keyManagerView(row), change: { action: 'create', entityKind: 'key_manager', entityId: row.id, projectId: row.projectId, before: null, after: row } };
    });
  }

  async update(id: string, input: UpdateKeyManager): Promise<KeyManager> {
    await this.requireReachable(input);
    return this.changes.write(async (tx) => {
      const row = await this.find(id, tx, true);
      this.permissions.check('key-manager:write', { projectId: row.projectId });
      const merged = mergeUpdate(row, input, (plain) => this.sealed(plain));
      const problems = keyManagerProblems({
        type: row.type,
        issuer: merged.issuer ?? undefined,
        ...Object.fromEntries(Object.entries(merged.settings).map(([k, v]) => [k, v ?? undefined])),
        clientSecret: merged.clientSecret ?? undefined,
        clientSecretId: merged.settings.clientSecretId ?? undefined,
        // Opened: the key length rule (RFC 7518 §3.2) holds a kept secret to a newly listed HS384/HS512 too.
        sharedSecret: merged.sharedSecret === null ? undefined : this.secrets.open(merged.sharedSecret),
        sharedSecretId: merged.settings.sharedSecretId ?? undefined,
        tls: { clientCertificatePem: merged.settings.tls.clientCertificatePem ?? undefined, clientKeyPem: merged.tlsClientKey ?? undefined },
      });
      if (problems.length > 0) throw ProblemError.validation(problems.map((p) => ({ path: p.path.join('.'), message: p.message })));
      if (merged.name !== row.name || merged.issuer !== row.issuer)
        await this.requireUnique(tx, merged.name !== row.name ? merged.name : null, merged.issuer !== row.issuer ? merged.issuer : null);
      if (merged.settings.clientSecretId !== (row.settings.clientSecretId ?? null)) await this.secretUse.require(tx, row.projectId, merged.settings.clientSecretId);
      if (merged.settings.sharedSecretId !== (row.settings.sharedSecretId ?? null) || input.algorithms !== undefined)
        await this.secretUse.require(tx, row.projectId, merged.settings.sharedSecretId, 'sharedSecretId', merged.settings.algorithms);
      const updated = await this.keyManagers.update(tx, id, { ...merged, updatedAt: new Date() });
      return { result: keyManagerView(updated), change: { action: 'update', entityKind: 'key_manager', entityId: id, projectId: row.projectId, before: row, after: updated } };
    });
  }

  async remove(id: string): Promise<void> {
    await this.changes.write(async (tx) => {
      const row = await this.find(id, tx, true);
      this.permissions.check('key-manager:write', { projectId: row.projectId });
      await this.keyManagers.delete(tx, id);
      return { result: undefined, change: { action: 'delete', entityKind: 'key_manager', entityId: id, projectId: row.projectId, before: row, after: null } };
    });
  }

  /**
   * The Gateways call these endpoints, so they are held to the proxies' outbound address policy
   * (the Gateways check again at connect time): no loopback, link-local or metadata address
   * unless the operator allowed it (UPSTREAM_ALLOW, UPSTREAM_ALLOW_INTERNAL). Before the write's
   * transaction: DNS can be slow.
   */
  private async requireReachable(input: Pick<UpdateKeyManager, 'discoveryUrl' | 'jwksUri' | 'introspectionEndpoint'>): Promise<void> {
    for (const field of ['discoveryUrl', 'jwksUri', 'introspectionEndpoint'] as const) {
      const url = input[field];
      if (typeof url === 'string') await this.upstreams.require(url, field);
    }
  }

  private sealed(plain: string | undefined): string | null {
    return plain === undefined ? null : this.secrets.seal(plain);
  }

  private async find(id: string, db?: Reads, lock = false): Promise<KeyManagerRow> {
    const row = await this.keyManagers.findById(id, db, lock);
    if (!row) throw ProblemError.notFound('key_manager', id);
    return row;
  }

  /** Names and issuers are unique: a token's `iss` must lead to exactly one key manager. */
  private async requireUnique(db: Reads, name: string | null, issuer: string | null): Promise<void> {
    if (name !== null && (await this.keyManagers.findByName(name, db))) throw ProblemError.conflict('key_manager_name_taken', `a key manager named '${name}' exists`, 'name');
    if (issuer !== null && (await this.keyManagers.findByIssuer(issuer, db)))
      throw ProblemError.conflict('key_manager_issuer_taken', `a key manager for issuer '${issuer}' exists`, 'issuer');
  }
}

function settingsOf(input: CreateKeyManager): KeyManagerSettings {
  return {
    discoveryUrl: input.discoveryUrl ?? null,
    jwksUri: input.jwksUri ?? null,
    introspectionEndpoint: input.introspectionEndpoint ?? null,
    clientId: input.clientId ?? null,
    clientSecretId: input.clientSecretId ?? null,
    sharedSecretId: input.sharedSecretId ?? null,
    algorithms: input.algorithms,
    audiences: input.audiences,
    clockSkewSeconds: input.clockSkewSeconds,
    requiredClaims: input.requiredClaims,
    claimMappings: input.claimMappings,
    tokenTypes: input.tokenTypes,
    roleList: input.roleList,
    tls: { caPem: input.tls.caPem ?? null, clientCertificatePem: input.tls.clientCertificatePem ?? null },
    timing: input.timing,
  };
}

type Merged = Pick<KeyManagerRow, 'name' | 'description' | 'issuer' | 'settings' | 'clientSecret' | 'sharedSecret' | 'tlsClientKey' | 'enabled'>;

/** The row an update leaves: given fields replace, null removes an optional one, secrets are sealed. */
function mergeUpdate(row: KeyManagerRow, input: UpdateKeyManager, seal: (plain: string | undefined) => string | null): Merged {
  const pick = <T>(value: T | undefined, current: T): T => (value === undefined ? current : value);
  const s = row.settings;
  const secret = (value: string | null | undefined, current: string | null) => (value === undefined ? current : value === null ? null : seal(value));
  // A client secret given one way replaces one held the other way (sealed here, or a project secret's).
  const clientSecretId = input.clientSecret ? null : pick(input.clientSecretId, s.clientSecretId ?? null);
  const clientSecret = input.clientSecretId ? null : secret(input.clientSecret, row.clientSecret);
  // The same for the HS* key.
  const sharedSecretId = input.sharedSecret ? null : pick(input.sharedSecretId, s.sharedSecretId ?? null);
  const sharedSecret = input.sharedSecretId ? null : secret(input.sharedSecret, row.sharedSecret);
  return {
    name: pick(input.name, row.name),
    description: pick(input.description, row.description),
    issuer: pick(input.issuer, row.issuer),
    settings: {
      discoveryUrl: pick(input.discoveryUrl, s.discoveryUrl),
      jwksUri: pick(input.jwksUri, s.jwksUri),
      introspectionEndpoint: pick(input.introspectionEndpoint, s.introspectionEndpoint),
      clientId: pick(input.clientId, s.clientId),
      clientSecretId,
      sharedSecretId,
      algorithms: pick(input.algorithms, s.algorithms),
      audiences: pick(input.audiences, s.audiences),
      clockSkewSeconds: pick(input.clockSkewSeconds, s.clockSkewSeconds),
      requiredClaims: pick(input.requiredClaims, s.requiredClaims),
      claimMappings: pick(input.claimMappings, s.claimMappings),
      tokenTypes: pick(input.tokenTypes, s.tokenTypes),
      roleList: pick(input.roleList, s.roleList),
      tls: input.tls ? { caPem: input.tls.caPem ?? null, clientCertificatePem: input.tls.clientCertificatePem ?? null } : s.tls,
      timing: pick(input.timing, s.timing),
    },
    clientSecret,
    sharedSecret,
    tlsClientKey: input.tls ? tlsKey(input.tls, row.tlsClientKey, seal) : row.tlsClientKey,
    enabled: pick(input.enabled, row.enabled),
  };
}

/**
 * TLS settings are replaced as a whole, but the client key is write-only: left out while a client
 * certificate stays, the stored key is kept (a form cannot show it to send it back); without a
 * certificate it goes.
 */
function tlsKey(tls: NonNullable<UpdateKeyManager['tls']>, stored: string | null, seal: (plain: string | undefined) => string | null): string | null {
  if (tls.clientKeyPem !== undefined) return seal(tls.clientKeyPem);
  return tls.clientCertificatePem ? stored : null;
}
