import type { z } from 'zod';

const documentingSchemas = new WeakMap<object, z.ZodType>();

/**
 * A request field the route accepts as anything because the service validates it itself (to
 * answer its own error code), documented in the OpenAPI document by the schema that does.
 */
export function validatedByService<F extends z.ZodType>(field: F, schema: z.ZodType): F {
  documentingSchemas.set(field, schema);
  return field;
}

/** The schema that documents a field marked with `validatedByService`, if it is one. */
export const documentingSchema = (field: object): z.ZodType | undefined => documentingSchemas.get(field);
