import { z } from 'zod';
import { description, entityId, entityName, timestamp } from './names.schema';

export const createProjectSchema = z.strictObject({
  name: entityName,
  description: description.optional(),
});
export const updateProjectSchema = z.strictObject({ description: description.optional() });

export type CreateProject = z.infer<typeof createProjectSchema>;
export type UpdateProject = z.infer<typeof updateProjectSchema>;

export const projectSchema = z.object({
  id: entityId,
  name: z.string(),
  description: z.string().nullable(),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type Project = z.infer<typeof projectSchema>;
