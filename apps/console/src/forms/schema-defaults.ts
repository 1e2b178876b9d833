type Schema = Record<string, unknown>;

/**
 * The schema with every property that has a default marked required. The policy schemas are
 * zod's input side, where a defaulted property is optional, yet the Manager always stores it; the
 * form fills only required defaults (populateRequiredDefaults), so an optional setting without
 * a default — jwt-auth's tokenService, whose sub-fields would then be half-filled and refused —
 * stays absent until the operator adds it, while the defaults an operator should see still show.
 */
export function withDefaultsRequired(schema: Schema): Schema {
  const out: Schema = { ...schema };
  if (schema.properties && typeof schema.properties === 'object') {
    const properties = schema.properties as Record<string, Schema>;
    out.properties = Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, withDefaultsRequired(property)]));
    const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
    for (const [name, property] of Object.entries(properties)) if (property && typeof property === 'object' && 'default' in property) required.add(name);
    if (required.size > 0) out.required = [...required];
  }
  if (schema.items && typeof schema.items === 'object' && !Array.isArray(schema.items)) out.items = withDefaultsRequired(schema.items as Schema);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') out.additionalProperties = withDefaultsRequired(schema.additionalProperties as Schema);
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) if (Array.isArray(schema[key])) out[key] = (schema[key] as Schema[]).map(withDefaultsRequired);
  return out;
}
