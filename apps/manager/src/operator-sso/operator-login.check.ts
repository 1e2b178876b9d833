import { Injectable } from '@nestjs/common';
import type { OperatorLogin, Permission } from '@idm/domain';
import type { Reads } from '../database/database';
import { PermissionService } from '../governance/permission.service';
import { ProblemError } from '../problems/problem.error';
import { resolveOperatorBindings } from '../repositories/operator-bindings';

/**
 * What an identity source's `operatorLogin` may say, checked on save: only a System source lets
 * operators in (a project's source is its project admins' to edit, and must not mint Manager
 * users); every group binding names an existing role and project or team; and, since mapping a
 * group to a role grants that role to whoever the directory puts in the group, the saver must be
 * allowed to grant it themselves (`role:bind` and every permission of the role at that scope),
 * as for a role binding — no escalation through a directory.
 */
@Injectable()
export class OperatorLoginCheck {
  constructor(private readonly permissions: PermissionService) {}

  async require(db: Reads, projectId: string | null, operatorLogin: OperatorLogin | null): Promise<void> {
    if (operatorLogin === null) return;
    if (projectId !== null)
      throw new ProblemError(422, 'operator_login_not_system', 'Only a System identity source can let operators in', 'operatorLogin needs a System source (no projectId)', [
        { path: 'operatorLogin', message: 'only a System identity source can let operators log in to the Manager' },
      ]);
    const { resolved, unresolved } = await resolveOperatorBindings(db, operatorLogin.groupBindings);
    if (unresolved.length > 0)
      throw new ProblemError(
        422,
        'operator_binding_invalid',
        'A group binding names a role or scope that does not exist',
        unresolved.map((u) => u.message).join('; '),
        unresolved.map((u) => ({ path: `operatorLogin.groupBindings.${u.index}`, message: u.message })),
      );
    for (const r of resolved) {
      const target = { projectId: r.projectId, teamId: r.teamId ?? undefined };
      this.permissions.check('role:bind', target);
      const missing = r.permissions.filter((p) => !this.permissions.can(p as Permission, target));
      if (missing.length > 0)
        throw new ProblemError(
          403,
          'escalation_denied',
          'Permission escalation denied',
          `mapping a group to '${r.roleName}' needs permissions you do not hold at that scope: ${missing.join(', ')}`,
          [{ path: `operatorLogin.groupBindings.${r.index}`, message: `you may not grant '${r.roleName}' there` }],
          { missingPermissions: missing },
        );
    }
  }
}
