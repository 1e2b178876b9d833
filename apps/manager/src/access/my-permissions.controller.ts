import { Controller, Get } from '@nestjs/common';
import { PERMISSIONS, type Permission } from '@idm/domain';
import { z } from 'zod';
import { PermissionService } from '../governance/permission.service';
import { Contract, ContractQuery } from '../openapi/contract.decorator';

const scopeQuerySchema = z
  .strictObject({ projectId: z.uuid().optional(), teamId: z.uuid().optional() })
  .refine((q) => q.teamId === undefined || q.projectId !== undefined, { message: 'teamId needs its projectId', path: ['teamId'] });
type ScopeQuery = z.infer<typeof scopeQuerySchema>;

const myPermissionsSchema = z.object({
  scope: z.object({ type: z.enum(['system', 'project', 'team']), id: z.uuid().nullable() }),
  permissions: z.array(z.enum(PERMISSIONS)),
});

/**
 * What the current operator may do at a scope, decided by the same PermissionService as every
 * route: the console hides what would be refused, and a script can ask before it tries.
 */
@Controller('api/v1/me')
export class MyPermissionsController {
  constructor(private readonly permissions: PermissionService) {}

  @Get('permissions')
  @Contract({ summary: 'The permissions the current operator holds at a scope (system when no projectId)', query: scopeQuerySchema, response: myPermissionsSchema })
  list(@ContractQuery() query: ScopeQuery): z.infer<typeof myPermissionsSchema> {
    const target = { projectId: query.projectId ?? null, teamId: query.teamId ?? null };
    const permissions: Permission[] = PERMISSIONS.filter((p) => this.permissions.can(p, target));
    const scope = query.teamId
      ? { type: 'team' as const, id: query.teamId }
      : query.projectId
        ? { type: 'project' as const, id: query.projectId }
        : { type: 'system' as const, id: null };
    return { scope, permissions };
  }
}
