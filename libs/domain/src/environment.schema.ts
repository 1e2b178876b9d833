import { z } from 'zod';
import { description, entityId, entityName, timestamp } from './names.schema';

export const createEnvironmentSchema = z
  .strictObject({
    name: entityName,
    description: description.optional(),
  })
  .meta({ examples: [{ name: 'production', description: 'Customer-facing Gateways' }] });
export const updateEnvironmentSchema = z.strictObject({ description: description.optional() });

export type CreateEnvironment = z.infer<typeof createEnvironmentSchema>;
export type UpdateEnvironment = z.infer<typeof updateEnvironmentSchema>;

export const environmentSchema = z.object({
  id: entityId,
  name: z.string(),
  description: z.string().nullable(),
  /** The last configuration revision published to this environment's Gateways. */
  revision: z.number().int().min(0),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type Environment = z.infer<typeof environmentSchema>;
