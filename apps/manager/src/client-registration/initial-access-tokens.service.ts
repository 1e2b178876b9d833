import { Injectable } from '@nestjs/common';
import type { CreateInitialAccessToken, CreatedInitialAccessToken, InitialAccessToken } from '@idm/domain';
import { ChangeWriter } from '../audit/change-writer';
import { PermissionService } from '../governance/permission.service';
import { requireProject } from '../governance/project-scope';
import { ProblemError } from '../problems/problem.error';
import { ClientRegistrationRepository, type InitialAccessTokenRow } from '../repositories/client-registration.repository';
import { newToken } from './registration-tokens';

const toToken = (row: InitialAccessTokenRow, registrations: number): InitialAccessToken => ({
  id: row.id,
  projectId: row.projectId,
  prefix: row.prefix,
  description: row.description,
  singleUse: row.singleUse,
  expiresAt: row.expiresAt.toISOString(),
  usedAt: row.usedAt?.toISOString() ?? null,
  registrations,
  createdAt: row.createdAt.toISOString(),
});
const auditView = ({ tokenHash: _, ...row }: InitialAccessTokenRow) => row;

/**
 * A project's initial access tokens (RFC 7591 §3): whoever holds one may register OIDC clients in
 * the project, so they are handled like credentials (`credential:write` to create or revoke,
 * `credential:read` to list, at the project). The token is shown once; only its SHA-256 is kept.
 * Revoking deletes it (clients registered with it stay).
 */
@Injectable()
export class InitialAccessTokensService {
  constructor(
    private readonly rows: ClientRegistrationRepository,
    private readonly changes: ChangeWriter,
    private readonly permissions: PermissionService,
  ) {}

  async list(projectId: string): Promise<InitialAccessToken[]> {
    this.permissions.check('credential:read', { projectId });
    await requireProject(this.changes.reads(), projectId);
    const rows = await this.rows.tokensOf(projectId);
    const counts = await this.rows.registrationCounts(rows.map((r) => r.id));
    return rows.map((r) => toToken(r, counts.get(r.id) ?? 0));
  }

  create(projectId: string, input: CreateInitialAccessToken): Promise<CreatedInitialAccessToken> {
    this.permissions.check('credential:write', { projectId });
    const issued = newToken('iat');
    return this.changes.write(async (tx) => {
      await requireProject(tx, projectId);
      const row = await this.rows.insertToken(tx, {
        projectId,
        prefix: issued.prefix,
        tokenHash: issued.hash,
        description: input.description ?? null,
        singleUse: input.singleUse,
        expiresAt: new Date(Date.now() + input.expiresInSeconds * 1000),
      });
      return {
        result: { ...toToken(row, 0), token: issued.token },
        change: { action: 'create', entityKind: 'initial_access_token', entityId: row.id, projectId, before: null, after: auditView(row) },
      };
    });
  }

  revoke(projectId: string, id: string): Promise<void> {
    this.permissions.check('credential:write', { projectId });
    return this.changes.write(async (tx) => {
      await requireProject(tx, projectId);
      const row = await this.rows.deleteToken(tx, projectId, id);
      if (!row) throw ProblemError.notFound('initial_access_token', id);
      return { result: undefined, change: { action: 'delete', entityKind: 'initial_access_token', entityId: id, projectId, before: auditView(row), after: null } };
    });
  }
}
