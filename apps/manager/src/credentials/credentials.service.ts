import { Injectable } from '@nestjs/common';
import {
  generateApiKey,
  SecretBox,
  type ApiKeyInfo,
  type CreateApiKey,
  type CreateCredential,
  type CreatedCredential,
  type Credential,
  type IssuedApiKey,
  type ListCredentialsQuery,
  type RotateApiKey,
  type RotatedApiKey,
  type UpdateCredential,
} from '@idm/domain';
import { isoOrNull } from '@idm/platform';
import { ChangeWriter, type ChangeRecord } from '../audit/change-writer';
import { PasswordHasher } from '../auth/password-hasher';
import { Database, type Reads, type Tx } from '../database/database';
import { PermissionService } from '../governance/permission.service';
import { requireProject, requireTeamInProject } from '../governance/project-scope';
import { ProblemError } from '../problems/problem.error';
import { CredentialRepository, type ApiKeyRow, type CredentialRow } from '../repositories/credential.repository';
import { publicMetadata, sealMetadata } from './credential-metadata';
import { sealDigestHa1 } from './digest-ha1';

type Row = CredentialRow;
type KeyRow = ApiKeyRow;
const toKeyInfo = (k: KeyRow): ApiKeyInfo => ({ id: k.id, prefix: k.prefix, expiresAt: isoOrNull(k.expiresAt), createdAt: k.createdAt.toISOString() });
/**
 * What the audit diff sees of a credential: hashes stand in for secrets and are masked there;
 * the sealed digest HA1 changes exactly when the password does, so it is left out.
 */
const auditRow = ({ digestHa1: _, ...c }: Row) => c;
const auditView = (c: Row, keys: KeyRow[]) => ({ ...auditRow(c), apiKeys: keys.map((k) => k.prefix) });

/** Credentials and their API keys. Secrets are hashed before they reach a transaction and never read back. */
@Injectable()
export class CredentialsService {
  constructor(
    private readonly database: Database,
    private readonly repository: CredentialRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
    private readonly hasher: PasswordHasher,
    private readonly secrets: SecretBox,
  ) {}

  /** One page, ordered by username; a team member's filter is part of the SQL, not applied after. */
  async list(projectId: string, page: ListCredentialsQuery = { limit: 100 }): Promise<Credential[]> {
    const visible = this.repository.readableIn(this.permissions.readFilter('credential:read'), projectId);
    if (!visible) this.permissions.check('credential:read', { projectId });
    await requireProject(this.database.db, projectId);
    return this.withKeys(await this.repository.page(visible!, page.after, page.limit));
  }

  async get(projectId: string, id: string): Promise<Credential> {
    const row = await this.find(projectId, id);
    this.permissions.check('credential:read', row);
    return (await this.withKeys([row]))[0];
  }

  async create(projectId: string, input: CreateCredential): Promise<CreatedCredential> {
    this.permissions.check('credential:write', { projectId, teamId: input.teamId });
    // Checked again in the transaction; first here, so a wrong project costs no argon2 hash.
    await requireProject(this.changes.reads(), projectId);
    await requireTeamInProject(this.changes.reads(), projectId, input.teamId);
    const passwordHash = input.password ? await this.hasher.hash(input.password) : null;
    const digestHa1 = input.password ? sealDigestHa1(this.secrets, input.username, input.password) : null;
    return this.changes.write(async (tx) => {
      await requireProject(tx, projectId);
      await requireTeamInProject(tx, projectId, input.teamId);
      const row = await this.repository.insert(tx, {
        projectId,
        teamId: input.teamId,
        username: input.username,
        passwordHash,
        digestHa1,
        enabled: input.enabled,
        expiresAt: input.expiresAt ? new Date(input.expiresAt) : null,
        email: input.email,
        fullName: input.fullName,
        description: input.description,
        roles: input.roles,
        metadata: sealMetadata(this.secrets, input.metadata),
        access: input.access,
        truststore: input.truststore ?? [],
      });
      const issued = input.issueApiKey ? await insertApiKey(this.repository, tx, row.id, null) : undefined;
      const [credential] = await this.withKeys([row], tx);
      return {
        result: { ...credential, ...(issued ? { apiKey: issued.key } : {}) },
        change: { action: 'create', entityKind: 'credential', entityId: row.id, projectId, teamId: row.teamId, before: null, after: auditView(row, issued ? [issued.row] : []) },
      };
    });
  }

  async update(projectId: string, id: string, input: UpdateCredential): Promise<Credential> {
    if (typeof input.password === 'string') {
      // Checked again in the transaction; first here, so a wrong id costs no argon2 hash.
      this.permissions.check('credential:write', await this.find(projectId, id, this.changes.reads()));
    }
    const passwordHash = input.password === undefined ? undefined : input.password === null ? null : await this.hasher.hash(input.password);
    return this.changes.write(async (tx) => {
      const before = await this.find(projectId, id, tx, true);
      this.permissions.check('credential:write', before);
      if (input.teamId !== undefined && input.teamId !== before.teamId) {
        this.permissions.check('credential:write', { projectId, teamId: input.teamId });
        await requireTeamInProject(tx, projectId, input.teamId);
      }
      const updated = await this.repository.updateWithKeys(tx, id, {
        ...(input.enabled === undefined ? {} : { enabled: input.enabled }),
        ...(input.teamId === undefined ? {} : { teamId: input.teamId }),
        ...(input.expiresAt === undefined ? {} : { expiresAt: input.expiresAt ? new Date(input.expiresAt) : null }),
        ...(passwordHash === undefined ? {} : { passwordHash, digestHa1: input.password ? sealDigestHa1(this.secrets, before.username, input.password) : null }),
        ...(input.email === undefined ? {} : { email: input.email }),
        ...(input.fullName === undefined ? {} : { fullName: input.fullName }),
        ...(input.description === undefined ? {} : { description: input.description }),
        ...(input.roles === undefined ? {} : { roles: input.roles }),
        ...(input.metadata === undefined ? {} : { metadata: sealMetadata(this.secrets, input.metadata, before.metadata) }),
        ...(input.access === undefined ? {} : { access: input.access }),
        ...(input.truststore === undefined ? {} : { truststore: input.truststore }),
        updatedAt: new Date(),
      });
      // The row is locked since `find`: it is there.
      const { row, keys } = updated!;
      return {
        result: toCredential(row, keys),
        change: { action: 'update', entityKind: 'credential', entityId: id, projectId, teamId: row.teamId, before: auditRow(before), after: auditRow(row) },
      };
    });
  }

  async remove(projectId: string, id: string): Promise<void> {
    await this.changes.write(async (tx) => {
      const before = await this.find(projectId, id, tx, true);
      this.permissions.check('credential:write', before);
      const keys = (await this.repository.keysOf([id], tx)).get(id) ?? [];
      await this.repository.delete(tx, id);
      return {
        result: undefined,
        change: { action: 'delete', entityKind: 'credential', entityId: id, projectId, teamId: before.teamId, before: auditView(before, keys), after: null },
      };
    });
  }

  issueApiKey(projectId: string, credentialId: string, input: CreateApiKey): Promise<IssuedApiKey> {
    return this.changes.write(async (tx) => {
      const credential = await this.find(projectId, credentialId, tx, true);
      this.permissions.check('credential:rotate', credential);
      const issued = await insertApiKey(this.repository, tx, credentialId, input.expiresAt ? new Date(input.expiresAt) : null);
      return {
        result: issued.key,
        change: { action: 'create', entityKind: 'api_key', entityId: issued.row.id, projectId, teamId: credential.teamId, before: null, after: { ...issued.row, credentialId } },
      };
    });
  }

  rotateApiKey(projectId: string, credentialId: string, keyId: string, input: RotateApiKey): Promise<RotatedApiKey> {
    return this.changes.write(async (tx) => {
      const credential = await this.find(projectId, credentialId, tx, true);
      this.permissions.check('credential:rotate', credential);
      return rotateKey(this.repository, tx, credential, keyId, input.graceSeconds);
    });
  }

  revokeApiKey(projectId: string, credentialId: string, keyId: string): Promise<void> {
    return this.changes.write(async (tx) => {
      const credential = await this.find(projectId, credentialId, tx, true);
      this.permissions.check('credential:rotate', credential);
      const row = await this.repository.deleteKey(tx, credentialId, keyId);
      if (!row) throw ProblemError.notFound('api_key', keyId);
      return { result: undefined, change: { action: 'delete', entityKind: 'api_key', entityId: keyId, projectId, teamId: credential.teamId, before: row, after: null } };
    });
  }

  private async find(projectId: string, id: string, db?: Reads, lock = false): Promise<Row> {
    const row = await this.repository.find(projectId, id, db, lock);
    if (!row) {
      this.permissions.check('credential:read', { projectId });
      throw ProblemError.notFound('credential', id);
    }
    return row;
  }

  private async withKeys(rows: Row[], db?: Reads): Promise<Credential[]> {
    const keys = await this.repository.keysOf(
      rows.map((r) => r.id),
      db,
    );
    return rows.map((r) => toCredential(r, keys.get(r.id) ?? []));
  }
}

function toCredential(r: Row, keys: KeyRow[]): Credential {
  return {
    id: r.id,
    projectId: r.projectId,
    teamId: r.teamId,
    username: r.username,
    hasPassword: r.passwordHash !== null,
    enabled: r.enabled,
    email: r.email,
    fullName: r.fullName,
    description: r.description,
    roles: r.roles,
    metadata: publicMetadata(r.metadata),
    access: r.access,
    truststore: r.truststore,
    expiresAt: isoOrNull(r.expiresAt),
    apiKeys: keys.map(toKeyInfo),
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

/**
 * Issues a replacement and shortens the old key's life to the grace period (never lengthens it),
 * so clients can switch over while both work. Shared by admin and self-service rotation.
 */
export async function rotateKey(
  repository: CredentialRepository,
  tx: Tx,
  credential: Row,
  keyId: string,
  graceSeconds: number,
): Promise<{ result: RotatedApiKey; change: ChangeRecord }> {
  const old = await repository.findKey(tx, credential.id, keyId);
  if (!old) throw ProblemError.notFound('api_key', keyId);
  const graceEnd = new Date(Date.now() + graceSeconds * 1000);
  const expiresAt = old.expiresAt && old.expiresAt < graceEnd ? old.expiresAt : graceEnd;
  const replaced = await repository.setKeyExpiry(tx, old.id, expiresAt);
  const issued = await insertApiKey(repository, tx, credential.id, old.expiresAt && old.expiresAt > graceEnd ? old.expiresAt : null);
  return {
    result: { ...issued.key, replaced: { id: old.id, prefix: old.prefix, expiresAt: expiresAt.toISOString() } },
    change: {
      action: 'rotate',
      entityKind: 'api_key',
      entityId: old.id,
      projectId: credential.projectId,
      teamId: credential.teamId,
      before: old,
      after: { ...replaced, replacedBy: issued.row.prefix },
    },
  };
}

async function insertApiKey(repository: CredentialRepository, tx: Tx, credentialId: string, expiresAt: Date | null): Promise<{ row: KeyRow; key: IssuedApiKey }> {
  const { key, prefix, hash } = generateApiKey();
  const row = await repository.insertKey(tx, { credentialId, prefix, keyHash: hash, expiresAt });
  return { row, key: { ...toKeyInfo(row), key } };
}
