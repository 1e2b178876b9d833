import { z } from 'zod';
import { description, entityName } from './names.schema';

export const createEnvironmentSchema = z.strictObject({
  name: entityName,
  description: description.optional(),
});
export const updateEnvironmentSchema = z.strictObject({ description: description.optional() });

export type CreateEnvironment = z.infer<typeof createEnvironmentSchema>;
export type UpdateEnvironment = z.infer<typeof updateEnvironmentSchema>;

export interface Environment {
  id: string;
  name: string;
  description: string | null;
  revision: number;
  createdAt: string;
  updatedAt: string;
}
