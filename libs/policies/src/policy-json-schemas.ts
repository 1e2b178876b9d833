import { z } from 'zod';
import { policySchemas } from './policy-schemas';

export interface PolicyTypeDocument {
  type: string;
  /** The config as a request would send it (defaults make fields optional), JSON Schema draft-07. */
  schema: Record<string, unknown>;
}

/**
 * Every policy type with its config as JSON Schema, for forms and tools that do not speak zod
 * (the console generates each policy's form from it). Draft-07: what form libraries validate.
 */
export function policyJsonSchemas(): PolicyTypeDocument[] {
  return Object.entries(policySchemas).map(([type, schema]) => {
    const { $schema: _, ...jsonSchema } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-7' });
    return { type, schema: withNullableTypes(jsonSchema) as Record<string, unknown> };
  });
}

type Json = unknown;

/**
 * zod writes a nullable primitive as `anyOf: [{type: 'string'}, {type: 'null'}]`; forms render
 * that as a choice between two unnamed options. `type: ['string', 'null']` says the same as one field.
 * An enum gets null among its values too: `enum` constrains every type, so without it the field
 * could never be null (and its `default: null` would be outside the schema, which forms report).
 */
function withNullableTypes(node: Json): Json {
  if (Array.isArray(node)) return node.map(withNullableTypes);
  if (!node || typeof node !== 'object') return node;
  const entries = Object.entries(node as Record<string, Json>).map(([k, v]) => [k, withNullableTypes(v)] as const);
  const out = Object.fromEntries(entries) as Record<string, Json>;
  const anyOf = out.anyOf as Record<string, Json>[] | undefined;
  if (Array.isArray(anyOf) && anyOf.length === 2) {
    const value = anyOf.find((s) => s.type !== 'null');
    const isNull = anyOf.some((s) => s.type === 'null' && Object.keys(s).length === 1);
    if (value && isNull && typeof value.type === 'string' && value.type !== 'object' && value.type !== 'array') {
      const { anyOf: _, ...rest } = out;
      const nullableEnum = Array.isArray(value.enum) && !value.enum.includes(null) ? { enum: [...(value.enum as Json[]), null] } : {};
      return { ...rest, ...value, type: [value.type, 'null'], ...nullableEnum };
    }
  }
  return out;
}
