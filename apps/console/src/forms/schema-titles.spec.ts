import { policyJsonSchemas } from '@idm/policies/schemas';
import { humanize, withTitles } from './schema-titles';

describe('form labels from the schema', () => {
  it('puts a camelCase property name into words', () => {
    expect(humanize('windowSeconds')).toBe('Window seconds');
    expect(humanize('onStoreUnavailable')).toBe('On store unavailable');
    expect(humanize('jwks_uri')).toBe('Jwks uri');
  });

  it("keeps the policy schema's own titles and titles every other property, nested ones too", () => {
    const rateLimit = policyJsonSchemas().find((p) => p.type === 'rate-limit')!.schema;
    const titled = withTitles(rateLimit) as { properties: Record<string, { title: string; description?: string; items?: { properties: Record<string, { title: string }> } }> };
    expect(titled.properties.limits.title).toBe('Rate limits');
    expect(titled.properties.limits.description).toMatch(/combine/);
    expect(titled.properties.limits.items!.properties.windowSeconds.title).toBe('Window (seconds)');
    expect(titled.properties.keyBy.title).toBe('Counted per');
    const untitled = withTitles({ type: 'object', properties: { clockToleranceSeconds: { type: 'integer' } } }) as { properties: Record<string, { title: string }> };
    expect(untitled.properties.clockToleranceSeconds.title).toBe('Clock tolerance seconds');
  });

  it('titles every property of every policy type (no raw name reaches a form)', () => {
    const missing: string[] = [];
    const walk = (schema: Record<string, unknown>, path: string) => {
      for (const [name, property] of Object.entries((schema.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        if (typeof property.title !== 'string' || property.title === name) missing.push(`${path}.${name}`);
        walk(property, `${path}.${name}`);
        if (property.items && typeof property.items === 'object') walk(property.items as Record<string, unknown>, `${path}.${name}[]`);
      }
    };
    for (const { type, schema } of policyJsonSchemas()) walk(withTitles(schema), type);
    expect(missing).toEqual([]);
  });
});
