import { policyJsonSchemas } from './policy-json-schemas';

type Node = Record<string, unknown>;

/** Every schema node below `node`, with its path. */
function* nodes(node: unknown, path = ''): Generator<[string, Node]> {
  if (!node || typeof node !== 'object') return;
  if (!Array.isArray(node)) yield [path, node as Node];
  for (const [key, child] of Object.entries(node)) yield* nodes(child, `${path}/${key}`);
}

describe('the policies as JSON Schema (what the console generates forms from)', () => {
  it('lets a nullable enum be null, so its null default is one of its values (jwt-auth tokenService.signingAlgorithm)', () => {
    const offending: string[] = [];
    let nullableEnums = 0;
    for (const { type, schema } of policyJsonSchemas()) {
      for (const [path, node] of nodes(schema)) {
        if (!Array.isArray(node.enum)) continue;
        const nullable = Array.isArray(node.type) && node.type.includes('null');
        if (nullable) nullableEnums++;
        if (nullable !== node.enum.includes(null)) offending.push(`${type}${path}`);
        if ('default' in node && !node.enum.some((v) => JSON.stringify(v) === JSON.stringify(node.default))) offending.push(`${type}${path} default`);
      }
    }
    expect(nullableEnums).toBeGreaterThan(0);
    expect(offending).toEqual([]);
  });
});
