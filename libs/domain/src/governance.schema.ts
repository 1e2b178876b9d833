import { z } from 'zod';
import { description, entityName } from './names.schema';
import { PERMISSIONS, SCOPE_TYPES } from './permissions';
import { password, username } from './credential.schema';

export const createTeamSchema = z.strictObject({ name: entityName, description: description.optional() });
export const updateTeamSchema = z.strictObject({ description: description.optional() });

export const createUserSchema = z.strictObject({ username, password });
export const updateUserSchema = z.strictObject({ password: password.optional() });
export const changeOwnPasswordSchema = z.strictObject({ currentPassword: z.string().min(1).max(256), newPassword: password });

export const createGroupSchema = z.strictObject({ name: entityName, description: description.optional() });
export const groupMemberSchema = z.strictObject({ userId: z.uuid() });

const permissionList = z.array(z.enum(PERMISSIONS)).min(1).max(PERMISSIONS.length);
export const createRoleSchema = z.strictObject({ name: entityName, description: description.optional(), permissions: permissionList });
export const updateRoleSchema = z.strictObject({ description: description.optional(), permissions: permissionList.optional() });

export const createRoleBindingSchema = z.strictObject({
  roleId: z.uuid(),
  subject: z.strictObject({ type: z.enum(['user', 'group']), id: z.uuid() }),
  scope: z
    .strictObject({ type: z.enum(SCOPE_TYPES), id: z.uuid().nullable().default(null) })
    .refine((s) => (s.type === 'system') === (s.id === null), 'system scope takes no id; project and team scopes need one'),
});

export const auditQuerySchema = z.strictObject({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  actorId: z.uuid().optional(),
  projectId: z.uuid().optional(),
  entityKind: z.string().max(64).optional(),
  entityId: z.string().max(64).optional(),
  action: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  /** Opaque cursor from the previous page's `nextCursor`. */
  cursor: z.string().regex(/^\d{1,18}$/).optional(),
});

export type CreateTeam = z.infer<typeof createTeamSchema>;
export type UpdateTeam = z.infer<typeof updateTeamSchema>;
export type CreateUser = z.infer<typeof createUserSchema>;
export type UpdateUser = z.infer<typeof updateUserSchema>;
export type ChangeOwnPassword = z.infer<typeof changeOwnPasswordSchema>;
export type CreateGroup = z.infer<typeof createGroupSchema>;
export type CreateRole = z.infer<typeof createRoleSchema>;
export type UpdateRole = z.infer<typeof updateRoleSchema>;
export type CreateRoleBinding = z.infer<typeof createRoleBindingSchema>;
export type AuditQuery = z.infer<typeof auditQuerySchema>;
