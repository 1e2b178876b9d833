import { Injectable } from '@nestjs/common';
import { grantCovers, readFilter, type EntityLocation, type Permission, type ReadFilter } from '@idm/domain';
import { ProblemError } from '../problems/problem.error';
import { ActorContext } from './actor.context';

/** The one place that decides whether the current actor may do something somewhere. */
@Injectable()
export class PermissionService {
  can(permission: Permission, target: EntityLocation): boolean {
    return ActorContext.current().grants.some((g) => grantCovers(g, permission, target));
  }

  /** Throws 403 naming the missing permission and the narrowest scope that would have allowed it. */
  check(permission: Permission, target: EntityLocation): void {
    if (this.can(permission, target)) return;
    const scope = target.teamId ? { type: 'team', id: target.teamId } : target.projectId ? { type: 'project', id: target.projectId } : { type: 'system', id: null };
    throw new ProblemError(403, 'permission_denied', 'Permission denied', `missing permission '${permission}' at ${scope.type} scope${scope.id ? ` ${scope.id}` : ''}`, undefined, {
      permission,
      scope,
    });
  }

  /** For installation-wide resources (environments) everyone may read who holds the permission anywhere. */
  checkAnywhere(permission: Permission): void {
    if (ActorContext.current().grants.some((g) => g.permissions.has(permission))) return;
    this.check(permission, { projectId: null });
  }

  /** Projects in which the actor holds the permission at project or team level (or all). */
  projectsWith(permission: Permission): { all: boolean; projectIds: string[] } {
    const grants = ActorContext.current().grants.filter((g) => g.permissions.has(permission));
    return { all: grants.some((g) => g.scope.type === 'system'), projectIds: grants.map((g) => g.projectId).filter((id): id is string => id !== null) };
  }

  /** Which projects/teams a list may show, to be pushed into the SQL WHERE clause. */
  readFilter(permission: Permission): ReadFilter {
    return readFilter(ActorContext.current().grants, permission);
  }
}
