import { Injectable } from '@nestjs/common';
import {
  generateApiKey,
  type ApiKeyInfo,
  type CreateApiKey,
  type CreateCredential,
  type Credential,
  type IssuedApiKey,
  type UpdateCredential,
} from '@idm/domain';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { PasswordHasher } from '../auth/password-hasher';
import { ConfigPublisher } from '../config-publisher/config-publisher';
import { Database, type Tx } from '../database/database';
import { apiKeys, credentials, projects } from '../database/schema';
import { ProblemError } from '../problems/problem.error';

type Row = typeof credentials.$inferSelect;
type KeyRow = typeof apiKeys.$inferSelect;
const iso = (d: Date | null) => (d ? d.toISOString() : null);
const toKeyInfo = (k: KeyRow): ApiKeyInfo => ({ id: k.id, prefix: k.prefix, expiresAt: iso(k.expiresAt), createdAt: k.createdAt.toISOString() });

/** Credentials and their API keys. Secrets are hashed before they reach a transaction and never read back. */
@Injectable()
export class CredentialsService {
  constructor(
    private readonly database: Database,
    private readonly publisher: ConfigPublisher,
    private readonly hasher: PasswordHasher,
  ) {}

  async list(projectId: string): Promise<Credential[]> {
    await this.requireProject(projectId);
    const rows = await this.database.db.select().from(credentials).where(eq(credentials.projectId, projectId)).orderBy(asc(credentials.username));
    return this.withKeys(rows);
  }

  async get(projectId: string, id: string): Promise<Credential> {
    return (await this.withKeys([await this.find(projectId, id)]))[0];
  }

  async create(projectId: string, input: CreateCredential): Promise<Credential & { apiKey?: IssuedApiKey }> {
    await this.requireProject(projectId);
    const passwordHash = input.password ? await this.hasher.hash(input.password) : null;
    const { id, apiKey } = await this.database.transaction(async (tx) => {
      const [row] = await tx
        .insert(credentials)
        .values({ projectId, username: input.username, passwordHash, enabled: input.enabled, expiresAt: input.expiresAt ? new Date(input.expiresAt) : null })
        .returning({ id: credentials.id });
      return { id: row.id, apiKey: input.issueApiKey ? await insertApiKey(tx, row.id, null) : undefined };
    });
    await this.publisher.publish();
    return { ...(await this.get(projectId, id)), ...(apiKey ? { apiKey } : {}) };
  }

  async update(projectId: string, id: string, input: UpdateCredential): Promise<Credential> {
    const passwordHash = input.password === undefined ? undefined : input.password === null ? null : await this.hasher.hash(input.password);
    const [row] = await this.database.db
      .update(credentials)
      .set({
        ...(input.enabled === undefined ? {} : { enabled: input.enabled }),
        ...(input.expiresAt === undefined ? {} : { expiresAt: input.expiresAt ? new Date(input.expiresAt) : null }),
        ...(passwordHash === undefined ? {} : { passwordHash }),
        updatedAt: new Date(),
      })
      .where(and(eq(credentials.projectId, projectId), eq(credentials.id, id)))
      .returning();
    if (!row) throw ProblemError.notFound('credential', id);
    await this.publisher.publish();
    return (await this.withKeys([row]))[0];
  }

  async remove(projectId: string, id: string): Promise<void> {
    const [row] = await this.database.db.delete(credentials).where(and(eq(credentials.projectId, projectId), eq(credentials.id, id))).returning();
    if (!row) throw ProblemError.notFound('credential', id);
    await this.publisher.publish();
  }

  async issueApiKey(projectId: string, credentialId: string, input: CreateApiKey): Promise<IssuedApiKey> {
    await this.find(projectId, credentialId);
    const issued = await this.database.transaction((tx) => insertApiKey(tx, credentialId, input.expiresAt ? new Date(input.expiresAt) : null));
    await this.publisher.publish();
    return issued;
  }

  async revokeApiKey(projectId: string, credentialId: string, keyId: string): Promise<void> {
    await this.find(projectId, credentialId);
    const [row] = await this.database.db.delete(apiKeys).where(and(eq(apiKeys.credentialId, credentialId), eq(apiKeys.id, keyId))).returning();
    if (!row) throw ProblemError.notFound('api_key', keyId);
    await this.publisher.publish();
  }

  private async find(projectId: string, id: string): Promise<Row> {
    const [row] = await this.database.db.select().from(credentials).where(and(eq(credentials.projectId, projectId), eq(credentials.id, id)));
    if (!row) throw ProblemError.notFound('credential', id);
    return row;
  }

  private async requireProject(projectId: string): Promise<void> {
    const [row] = await this.database.db.select({ id: projects.id }).from(projects).where(eq(projects.id, projectId));
    if (!row) throw ProblemError.notFound('project', projectId);
  }

  private async withKeys(rows: Row[]): Promise<Credential[]> {
    const keys = rows.length
      ? await this.database.db.select().from(apiKeys).where(inArray(apiKeys.credentialId, rows.map((r) => r.id))).orderBy(asc(apiKeys.createdAt))
      : [];
    return rows.map((r) => ({
      id: r.id,
      projectId: r.projectId,
      username: r.username,
      hasPassword: r.passwordHash !== null,
      enabled: r.enabled,
      expiresAt: iso(r.expiresAt),
      apiKeys: keys.filter((k) => k.credentialId === r.id).map(toKeyInfo),
      createdAt: r.createdAt.toISOString(),
      updatedAt: r.updatedAt.toISOString(),
    }));
  }
}

async function insertApiKey(tx: Tx, credentialId: string, expiresAt: Date | null): Promise<IssuedApiKey> {
  const { key, prefix, hash } = generateApiKey();
  const [row] = await tx.insert(apiKeys).values({ credentialId, prefix, keyHash: hash, expiresAt }).returning();
  return { ...toKeyInfo(row), key };
}
