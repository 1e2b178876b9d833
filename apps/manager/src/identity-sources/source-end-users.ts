import { Injectable } from '@nestjs/common';
import { ChangeWriter } from '../audit/change-writer';
import { CredentialRepository, type CredentialRow } from '../repositories/credential.repository';

const auditRow = ({ digestHa1: _, ...c }: CredentialRow) => c;

/**
 * The end users an identity source provisioned, when the source goes away: each disabled as its
 * own audited end-user change (by the operator who deleted the source), published like any
 * disabling, so every Gateway refuses their logins, refresh tokens and SSO sessions.
 */
@Injectable()
export class SourceEndUsers {
  constructor(
    private readonly changes: ChangeWriter,
    private readonly credentials: CredentialRepository,
  ) {}

  /** Runs inside the caller's batch: with the source's deletion, or not at all. */
  async disableAllOf(sourceId: string): Promise<void> {
    const users = await this.changes.write(async (tx) => ({ result: await this.credentials.enabledEndUsersOfSource(tx, sourceId), change: null }));
    for (const user of users)
      await this.changes.write(async (tx) => {
        const row = await this.credentials.update(tx, user.id, { enabled: false, updatedAt: new Date() });
        return {
          result: undefined,
          change: { action: 'update', entityKind: 'end_user', entityId: row.id, projectId: row.projectId, teamId: row.teamId, before: auditRow(user), after: auditRow(row) },
        };
      });
  }
}
