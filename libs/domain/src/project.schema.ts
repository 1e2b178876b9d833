import { z } from 'zod';
import { description, entityName } from './names.schema';

export const createProjectSchema = z.strictObject({
  name: entityName,
  description: description.optional(),
});
export const updateProjectSchema = z.strictObject({ description: description.optional() });

export type CreateProject = z.infer<typeof createProjectSchema>;
export type UpdateProject = z.infer<typeof updateProjectSchema>;

export interface Project {
  id: string;
  name: string;
  description: string | null;
  createdAt: string;
  updatedAt: string;
}
