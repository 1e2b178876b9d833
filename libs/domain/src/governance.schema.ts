import { z } from 'zod';
import { description, entityId, entityName, timestamp } from './names.schema';
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

export const createRoleBindingSchema = z
  .strictObject({
    roleId: z.uuid(),
    subject: z.strictObject({ type: z.enum(['user', 'group']), id: z.uuid() }),
    scope: z
      .strictObject({ type: z.enum(SCOPE_TYPES), id: z.uuid().nullable().default(null) })
      .refine((s) => (s.type === 'system') === (s.id === null), 'system scope takes no id; project and team scopes need one')
      // The refinement above, in JSON Schema terms, so clients see which scopes need an id.
      .meta({
        oneOf: [
          { properties: { type: { const: 'system' }, id: { type: 'null' } } },
          { properties: { type: { enum: SCOPE_TYPES.filter((t) => t !== 'system') }, id: { type: 'string' } }, required: ['id'] },
        ],
      }),
  })
  .meta({
    examples: [
      {
        roleId: '0192f1c4-6a8e-7b3d-9f10-2c4e5a6b7c8d',
        subject: { type: 'group', id: '0192f1c4-6a8e-7b3d-9f10-3d5f6a7b8c9e' },
        scope: { type: 'project', id: '0192f1c4-6a8e-7b3d-9f10-4e6a7b8c9daf' },
      },
    ],
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
  cursor: z
    .string()
    .regex(/^\d{1,18}$/)
    .optional(),
});

export const teamSchema = z.object({ id: entityId, projectId: entityId, name: z.string(), description: z.string().nullable(), createdAt: timestamp, updatedAt: timestamp });
/** An operator as others see them: never a password hash. */
export const userSchema = z.object({ id: entityId, username: z.string(), createdAt: timestamp, updatedAt: timestamp });
export const groupSchema = z.object({ id: entityId, name: z.string(), description: z.string().nullable(), members: z.array(entityId) });
export const roleSchema = z.object({ id: entityId, name: z.string(), description: z.string().nullable(), builtIn: z.boolean(), permissions: z.array(z.enum(PERMISSIONS)) });
export const roleBindingSchema = z.object({
  id: entityId,
  roleId: entityId,
  subject: z.object({ type: z.enum(['user', 'group']), id: entityId }),
  scope: z.object({ type: z.enum(SCOPE_TYPES), id: entityId.nullable() }),
  /** The project the scope lies in (a team's project), null for the system scope. */
  projectId: entityId.nullable(),
  createdAt: timestamp,
});

/** Where a change came in: the REST API, an APIops bundle, the console, the system's own jobs, or a client registering itself (RFC 7591 dynamic client registration). */
export const CHANGE_SOURCES = ['rest', 'apiops', 'ui', 'system', 'dcr'] as const;
export type ChangeSource = (typeof CHANGE_SOURCES)[number];
export const ACTOR_TYPES = ['user', 'system'] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

export const auditEventSchema = z.object({
  /** Ascending commit order; the cursor of the page API. */
  seq: z.number().int(),
  at: timestamp,
  actor: z.object({
    id: entityId.nullable(),
    type: z.enum(ACTOR_TYPES),
    name: z.string(),
    source: z.enum(CHANGE_SOURCES),
    ip: z.string().nullable(),
    correlationId: z.string().nullable(),
  }),
  action: z.string(),
  entity: z.object({ kind: z.string(), id: z.string().nullable(), projectId: entityId.nullable(), teamId: entityId.nullable() }),
  /** Field -> {old, new}; secrets only as {changed: true, secret: true}. */
  diff: z.record(z.string(), z.unknown()),
});
export const auditPageSchema = z.object({ items: z.array(auditEventSchema), nextCursor: z.string().nullable() });

export type Team = z.infer<typeof teamSchema>;
export type User = z.infer<typeof userSchema>;
export type Group = z.infer<typeof groupSchema>;
export type Role = z.infer<typeof roleSchema>;
export type RoleBinding = z.infer<typeof roleBindingSchema>;
export type AuditEventView = z.infer<typeof auditEventSchema>;
export type AuditPage = z.infer<typeof auditPageSchema>;
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
