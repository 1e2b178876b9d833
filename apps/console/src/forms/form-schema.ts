import { humanize, withTitles } from './schema-titles';

type Schema = Record<string, unknown>;

const isNull = (s: Schema) => s.type === 'null';

/**
 * A request body's JSON Schema (zod's, as the Manager's OpenAPI document carries it) made fit for
 * a generated form: every property titled; `X or null` on a scalar or a list becomes X (an empty
 * field is sent as nothing, which the API reads as its default); an optional object keeps its
 * choice, worded "Not set" / "Set"; a `"never"` alternative is worded "Never".
 */
export function formSchema(schema: Schema): Schema {
  return withTitles(simplify(schema));
}

function simplify(schema: Schema): Schema {
  let out: Schema = { ...schema };
  delete out.$schema;
  // The same `X or null` written as a type list (the policy schemas'): X, without the null value or default.
  if (Array.isArray(schema.type) && schema.type.includes('null')) {
    const types = (schema.type as string[]).filter((t) => t !== 'null');
    out.type = types.length === 1 ? types[0] : types;
    if (Array.isArray(schema.enum)) out.enum = (schema.enum as unknown[]).filter((v) => v !== null);
    if (schema.default === null) delete out.default;
  }
  if (Array.isArray(schema.anyOf)) {
    const branches = (schema.anyOf as Schema[]).map(simplify);
    const others = branches.filter((b) => !isNull(b));
    if (others.length === 1 && others[0].type !== 'object') {
      const { anyOf: _, default: fallback, ...rest } = out;
      out = { ...rest, ...others[0], ...(fallback === null || fallback === undefined ? {} : { default: fallback }) };
    } else {
      // "Not set" first: the form opens on it when the value is absent, rather than on an empty object the API would refuse.
      const titled = branches.map((b) => ({ ...b, title: isNull(b) ? 'Not set' : b.const !== undefined ? humanize(JSON.stringify(b.const).replace(/"/g, '')) : 'Set' }));
      out.anyOf = [...titled.filter(isNull), ...titled.filter((b) => !isNull(b))];
    }
  }
  if (schema.properties && typeof schema.properties === 'object') {
    out.properties = Object.fromEntries(Object.entries(schema.properties as Record<string, Schema>).map(([name, p]) => [name, simplify(p)]));
  }
  if (schema.items && typeof schema.items === 'object' && !Array.isArray(schema.items)) out.items = simplify(schema.items as Schema);
  if (Array.isArray(schema.oneOf)) out.oneOf = (schema.oneOf as Schema[]).map((b) => titledByDiscriminator(simplify(b)));
  return out;
}

/** A branch of a discriminated union named by its discriminator's value ("search" → "Search"), not "Option 2". */
function titledByDiscriminator(branch: Schema): Schema {
  if (typeof branch.title === 'string') return branch;
  const discriminator = Object.values((branch.properties ?? {}) as Record<string, Schema>).find((p) => p.const !== undefined);
  return discriminator ? { ...branch, title: humanize(JSON.stringify(discriminator.const).replace(/"/g, '')) } : branch;
}

/** A value as the form shows it: nulls left out (the form has no "null"; leaving a field empty means the API's default). */
export function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, withoutNulls(v)]),
    );
  }
  return value;
}
