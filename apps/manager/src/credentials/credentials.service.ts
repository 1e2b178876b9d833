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
import { and, asc, eq, gt, inArray } from 'drizzle-orm';
import { ChangeWriter, type ChangeRecord } from '../audit/change-writer';
import { PasswordHasher } from '../auth/password-hasher';
import { Database, type Tx } from '../database/database';
import { apiKeys, credentials } from '../database/schema';
import { PermissionService } from '../governance/permission.service';
import { projectRowsFilter, requireProject, requireTeamInProject } from '../governance/project-scope';
import { ProblemError } from '../problems/problem.error';
import { publicMetadata, sealMetadata } from './credential-metadata';
import { sealDigestHa1 } from './digest-ha1';

type Row = typeof credentials.$inferSelect;
type KeyRow = typeof apiKeys.$inferSelect;
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
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
    private readonly hasher: PasswordHasher,
    private readonly secrets: SecretBox,
  ) {}

  /** One page, ordered by username; a team member's filter is part of the SQL, not applied after. */
  async list(projectId: string, page: ListCredentialsQuery = { limit: 100 }): Promise<Credential[]> {
    const visible = projectRowsFilter(this.permissions.readFilter('credential:read'), projectId, credentials);
    if (!visible) this.permissions.check('credential:read', { projectId });
    await requireProject(this.database.db, projectId);
    const rows = await this.database.db.select().from(credentials).where(and(visible!, page.after === undefined ? undefined : gt(credentials.username, page.after))).orderBy(asc(credentials.username)).limit(page.limit);
    return withKeys(this.database.db, rows);
  }

  async get(projectId: string, id: string): Promise<Credential> {
    const row = await this.find(this.database.db, projectId, id);
    this.permissions.check('credential:read', row);
    return (await withKeys(this.database.db, [row]))[0];
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
      const [row] = await tx
        .insert(credentials)
        .values({
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
        })
        .returning();
      const issued = input.issueApiKey ? await insertApiKey(tx, row.id, null) : undefined;
      const [credential] = await withKeys(tx, [row]);
      return {
        result: { ...credential, ...(issued ? { apiKey: issued.key } : {}) },
        change: { action: 'create', entityKind: 'credential', entityId: row.id, projectId, teamId: row.teamId, before: null, after: auditView(row, issued ? [issued.row] : []) },
      };
    });
  }

  async update(projectId: string, id: string, input: UpdateCredential): Promise<Credential> {
    if (typeof input.password === 'string') {
      // Checked again in the transaction; first here, so a wrong id costs no argon2 hash.
      this.permissions.check('credential:write', await this.find(this.changes.reads(), projectId, id));
    }
    const passwordHash = input.password === undefined ? undefined : input.password === null ? null : await this.hasher.hash(input.password);
    return this.changes.write(async (tx) => {
      const before = await this.find(tx, projectId, id, true);
      this.permissions.check('credential:write', before);
      if (input.teamId !== undefined && input.teamId !== before.teamId) {
        this.permissions.check('credential:write', { projectId, teamId: input.teamId });
        await requireTeamInProject(tx, projectId, input.teamId);
      }
      const [row] = await tx
        .update(credentials)
        .set({
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
        })
        .where(eq(credentials.id, id))
        .returning();
      return { result: (await withKeys(tx, [row]))[0], change: { action: 'update', entityKind: 'credential', entityId: id, projectId, teamId: row.teamId, before: auditRow(before), after: auditRow(row) } };
    });
  }

  async remove(projectId: string, id: string): Promise<void> {
    await this.changes.write(async (tx) => {
      const before = await this.find(tx, projectId, id, true);
      this.permissions.check('credential:write', before);
      const keys = await tx.select().from(apiKeys).where(eq(apiKeys.credentialId, id));
      await tx.delete(credentials).where(eq(credentials.id, id));
      return { result: undefined, change: { action: 'delete', entityKind: 'credential', entityId: id, projectId, teamId: before.teamId, before: auditView(before, keys), after: null } };
    });
  }

  issueApiKey(projectId: string, credentialId: string, input: CreateApiKey): Promise<IssuedApiKey> {
    return this.changes.write(async (tx) => {
      const credential = await this.find(tx, projectId, credentialId, true);
      this.permissions.check('credential:rotate', credential);
      const issued = await insertApiKey(tx, credentialId, input.expiresAt ? new Date(input.expiresAt) : null);
      return { result: issued.key, change: { action: 'create', entityKind: 'api_key', entityId: issued.row.id, projectId, teamId: credential.teamId, before: null, after: { ...issued.row, credentialId } } };
    });
  }

  rotateApiKey(projectId: string, credentialId: string, keyId: string, input: RotateApiKey): Promise<RotatedApiKey> {
    return this.changes.write(async (tx) => {
      const credential = await this.find(tx, projectId, credentialId, true);
      this.permissions.check('credential:rotate', credential);
      return rotateKey(tx, credential, keyId, input.graceSeconds);
    });
  }

  revokeApiKey(projectId: string, credentialId: string, keyId: string): Promise<void> {
    return this.changes.write(async (tx) => {
      const credential = await this.find(tx, projectId, credentialId, true);
      this.permissions.check('credential:rotate', credential);
      const [row] = await tx.delete(apiKeys).where(and(eq(apiKeys.credentialId, credentialId), eq(apiKeys.id, keyId))).returning();
      if (!row) throw ProblemError.notFound('api_key', keyId);
      return { result: undefined, change: { action: 'delete', entityKind: 'api_key', entityId: keyId, projectId, teamId: credential.teamId, before: row, after: null } };
    });
  }

  private async find(db: Pick<Tx, 'select'>, projectId: string, id: string, lock = false): Promise<Row> {
    const query = db.select().from(credentials).where(and(eq(credentials.projectId, projectId), eq(credentials.id, id)));
    const [row] = await (lock ? query.for('update') : query);
    if (!row) {
      this.permissions.check('credential:read', { projectId });
      throw ProblemError.notFound('credential', id);
    }
    return row;
  }
}


async function withKeys(db: Pick<Tx, 'select'>, rows: Row[]): Promise<Credential[]> {
  const keys = rows.length ? await db.select().from(apiKeys).where(inArray(apiKeys.credentialId, rows.map((r) => r.id))).orderBy(asc(apiKeys.createdAt)) : [];
  return rows.map((r) => ({
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
    apiKeys: keys.filter((k) => k.credentialId === r.id).map(toKeyInfo),
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  }));
}

/**
 * Issues a replacement and shortens the old key's life to the grace period (never lengthens it),
 * so clients can switch over while both work. Shared by admin and self-service rotation.
 */
export async function rotateKey(tx: Tx, credential: Row, keyId: string, graceSeconds: number): Promise<{ result: RotatedApiKey; change: ChangeRecord }> {
  const [old] = await tx.select().from(apiKeys).where(and(eq(apiKeys.credentialId, credential.id), eq(apiKeys.id, keyId))).for('update');
  if (!old) throw ProblemError.notFound('api_key', keyId);
  const graceEnd = new Date(Date.now() + graceSeconds * 1000);
  const expiresAt = old.expiresAt && old.expiresAt < graceEnd ? old.expiresAt : graceEnd;
  const [replaced] = await tx.update(apiKeys).set({ expiresAt }).where(eq(apiKeys.id, old.id)).returning();
  const issued = await insertApiKey(tx, credential.id, old.expiresAt && old.expiresAt > graceEnd ? old.expiresAt : null);
  return {
    result: { ...issued.key, replaced: { id: old.id, prefix: old.prefix, expiresAt: expiresAt.toISOString() } },
    change: { action: 'rotate', entityKind: 'api_key', entityId: old.id, projectId: credential.projectId, teamId: credential.teamId, before: old, after: { ...replaced, replacedBy: issued.row.prefix } },
  };
}

async function insertApiKey(tx: Tx, credentialId: string, expiresAt: Date | null): Promise<{ row: KeyRow; key: IssuedApiKey }> {
  const { key, prefix, hash } = generateApiKey();
  const [row] = await tx.insert(apiKeys).values({ credentialId, prefix, keyHash: hash, expiresAt }).returning();
  return { row, key: { ...toKeyInfo(row), key } };
}
