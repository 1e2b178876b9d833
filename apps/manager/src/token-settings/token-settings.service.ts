import { Injectable } from '@nestjs/common';
import { tokenSettingsSchema, type TokenSettings } from '@idm/domain';
import { and, eq } from 'drizzle-orm';
import { ChangeWriter } from '../audit/change-writer';
import { Database, type Tx } from '../database/database';
import { credentials, credentialTokenSettings } from '../database/schema';
import { PermissionService } from '../governance/permission.service';
import { ProblemError } from '../problems/problem.error';

/** Token service settings of one credential; absent = the credential cannot get tokens. */
@Injectable()
export class TokenSettingsService {
  constructor(
    private readonly database: Database,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
  ) {}

  async get(projectId: string, credentialId: string): Promise<TokenSettings | null> {
    const credential = await this.credential(this.database.db, projectId, credentialId);
    this.permissions.check('credential:read', credential);
    const [row] = await this.database.db.select().from(credentialTokenSettings).where(eq(credentialTokenSettings.credentialId, credentialId));
    return row ? tokenSettingsSchema.parse(row.settings) : null;
  }

  put(projectId: string, credentialId: string, settings: TokenSettings): Promise<TokenSettings> {
    return this.changes.write(async (tx) => {
      const credential = await this.credential(tx, projectId, credentialId);
      this.permissions.check('credential:write', credential);
      const [before] = await tx.select().from(credentialTokenSettings).where(eq(credentialTokenSettings.credentialId, credentialId)).for('update');
      await tx
        .insert(credentialTokenSettings)
        .values({ credentialId, settings })
        .onConflictDoUpdate({ target: credentialTokenSettings.credentialId, set: { settings, updatedAt: new Date() } });
      return {
        result: settings,
        change: { action: 'update', entityKind: 'credential_token_settings', entityId: credentialId, projectId, teamId: credential.teamId, before: before?.settings ?? null, after: settings },
      };
    });
  }

  remove(projectId: string, credentialId: string): Promise<void> {
    return this.changes.write(async (tx) => {
      const credential = await this.credential(tx, projectId, credentialId);
      this.permissions.check('credential:write', credential);
      const [before] = await tx.delete(credentialTokenSettings).where(eq(credentialTokenSettings.credentialId, credentialId)).returning();
      if (!before) throw ProblemError.notFound('token_settings', credentialId);
      return { result: undefined, change: { action: 'delete', entityKind: 'credential_token_settings', entityId: credentialId, projectId, teamId: credential.teamId, before: before.settings, after: null } };
    });
  }

  private async credential(db: Pick<Tx, 'select'>, projectId: string, id: string) {
    const [row] = await db.select({ projectId: credentials.projectId, teamId: credentials.teamId }).from(credentials).where(and(eq(credentials.projectId, projectId), eq(credentials.id, id)));
    if (!row) {
      this.permissions.check('credential:read', { projectId });
      throw ProblemError.notFound('credential', id);
    }
    return row;
  }
}
