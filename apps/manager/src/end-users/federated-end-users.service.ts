import { Injectable, Logger } from '@nestjs/common';
import type { EndUserProvisionReply, EndUserProvisionRequest } from '@idm/config-bus';
import { username as usernameSchema } from '@idm/domain';
import { z } from 'zod';
import { ChangeWriter } from '../audit/change-writer';
import { ActorContext, systemActor } from '../governance/actor.context';
import { CredentialRepository, type CredentialRow } from '../repositories/credential.repository';
import { IdentitySourceRepository, type IdentitySourceRow } from '../repositories/identity-source.repository';

const email = z.email().max(254);
const roleName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._:-]+$/);
const auditRow = ({ digestHa1: _, ...c }: CredentialRow) => c;

/**
 * Just-in-time provisioning of end users verified by an identity source (Keycloak's "import
 * users" / WSO2's JIT provisioning): the first login creates an end user of the project linked to
 * the source (no password of ours: the directory keeps checking it), every later login refreshes
 * the directory-owned fields (email, display name, roles from the group mapping). What operators
 * set stays theirs: a disabled or locked user stays so, and a username held by a local user or by
 * another source's user is never taken over. Audited as the system actor `identity-source:<name>`
 * and published like any end-user change.
 */
@Injectable()
export class FederatedEndUsers {
  private readonly log = new Logger('FederatedEndUsers');

  constructor(
    private readonly changes: ChangeWriter,
    private readonly credentials: CredentialRepository,
    private readonly sources: IdentitySourceRepository,
  ) {}

  async provision(request: EndUserProvisionRequest): Promise<EndUserProvisionReply> {
    const source = await this.sources.findById(request.sourceId);
    if (!source || !source.enabled || (source.projectId !== null && source.projectId !== request.projectId)) return { outcome: 'refused', reason: 'source_not_usable' };
    const username = usernameSchema.safeParse(request.username);
    if (!username.success) return { outcome: 'refused', reason: 'invalid_identity' };
    // Roles the group mapping produced; one a credential cannot carry is dropped, not fatal.
    const roles = [...new Set(request.roles.filter((r) => roleName.safeParse(r).success))].sort().slice(0, 50);
    const displayName = request.displayName === null ? null : request.displayName.slice(0, 200);
    const directoryEmail = request.email !== null && email.safeParse(request.email).success ? request.email : null;
    try {
      return await this.write(source, username.data, roles, displayName, directoryEmail, request.projectId);
    } catch (err) {
      // Two Gateways provisioning the same first login: the loser's insert hits the unique username; the second pass finds the winner's user.
      if ((err as { code?: string; cause?: { code?: string } })?.code !== '23505' && (err as { cause?: { code?: string } })?.cause?.code !== '23505') throw err;
      return this.write(source, username.data, roles, displayName, directoryEmail, request.projectId);
    }
  }

  private write(
    source: IdentitySourceRow,
    username: string,
    roles: string[],
    displayName: string | null,
    directoryEmail: string | null,
    projectId: string,
  ): Promise<EndUserProvisionReply> {
    return ActorContext.run(systemActor(`identity-source:${source.name}`), () =>
      this.changes.write<EndUserProvisionReply>(async (tx) => {
        const existing = await this.credentials.findByUsername(tx, projectId, username, true);
        if (existing && existing.endUser?.identitySourceId !== source.id) {
          this.log.warn(`login of ${username} through identity source ${source.name} refused: the username belongs to a user this source does not own`);
          return { result: { outcome: 'refused', reason: 'username_taken' }, change: null };
        }
        // An email another end user already has is not copied (the project's emails are unique); the user still logs in.
        const userEmail = directoryEmail !== null && !(await this.credentials.endUserEmailTaken(tx, projectId, directoryEmail, existing?.id ?? null)) ? directoryEmail : null;
        if (!existing) {
          const row = await this.credentials.insert(tx, {
            projectId: projectId,
            teamId: null,
            username: username,
            passwordHash: null,
            digestHa1: null,
            enabled: true,
            email: userEmail,
            fullName: displayName,
            roles,
            endUser: { emailVerified: false, givenName: null, familyName: null, locale: null, pictureUrl: null, attributes: {}, locked: false, identitySourceId: source.id },
          });
          return {
            result: { outcome: 'provisioned', credentialId: row.id, roles: row.roles } as const,
            change: { action: 'create', entityKind: 'end_user', entityId: row.id, projectId: row.projectId, teamId: null, before: null, after: auditRow(row) },
          };
        }
        const unchanged = existing.email === userEmail && existing.fullName === displayName && sameRoles(existing.roles, roles);
        if (unchanged) return { result: { outcome: 'provisioned', credentialId: existing.id, roles: existing.roles }, change: null };
        const row = await this.credentials.update(tx, existing.id, {
          email: userEmail,
          fullName: displayName,
          roles,
          endUser: { ...existing.endUser!, emailVerified: existing.email === userEmail ? existing.endUser!.emailVerified : false },
          updatedAt: new Date(),
        });
        return {
          result: { outcome: 'provisioned', credentialId: row.id, roles: row.roles } as const,
          change: { action: 'update', entityKind: 'end_user', entityId: row.id, projectId: row.projectId, teamId: row.teamId, before: auditRow(existing), after: auditRow(row) },
        };
      }),
    );
  }
}

function sameRoles(a: readonly string[], b: readonly string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((r, i) => r === y[i]);
}
