type Schema = Record<string, unknown>;

/** `windowSeconds` → "Window seconds", `onStoreUnavailable` → "On store unavailable". */
export function humanize(name: string): string {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * The schema with a title on every property: the policy's own title where its schema gives one
 * (with its description shown under the field), else the property name in words — never the raw
 * camelCase name a form library would print.
 */
export function withTitles(schema: Schema): Schema {
  const out: Schema = { ...schema };
  if (schema.properties && typeof schema.properties === 'object') {
    out.properties = Object.fromEntries(
      Object.entries(schema.properties as Record<string, Schema>).map(([name, property]) => {
        const titled = withTitles(property);
        return [name, typeof titled.title === 'string' ? titled : { ...titled, title: humanize(name) }];
      }),
    );
  }
  if (schema.items && typeof schema.items === 'object' && !Array.isArray(schema.items)) out.items = withTitles(schema.items as Schema);
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) if (Array.isArray(schema[key])) out[key] = (schema[key] as Schema[]).map(withTitles);
  return out;
}
