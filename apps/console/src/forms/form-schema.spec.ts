import { formSchema, withoutNulls } from './form-schema';
import { errorTreeFor } from './server-errors';

// What the Manager's OpenAPI document says (zod's JSON Schema), shaped for a generated form.
describe('request-body schemas made fit for generated forms', () => {
  it('turns "X or null" on a scalar or list into X, keeping a real default, and titles every property', () => {
    const shaped = formSchema({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: {
        maxRefreshCount: { default: null, anyOf: [{ type: 'integer', minimum: 0 }, { type: 'null' }] },
        allowedProxies: { default: null, anyOf: [{ type: 'array', items: { type: 'string' } }, { type: 'null' }] },
        scopeMode: { default: 'strict', type: 'string', enum: ['strict', 'lenient'] },
      },
    });
    expect(shaped.$schema).toBeUndefined();
    expect(shaped.properties).toEqual({
      maxRefreshCount: { type: 'integer', minimum: 0, title: 'Max refresh count' },
      allowedProxies: { type: 'array', items: { type: 'string' }, title: 'Allowed proxies' },
      scopeMode: { default: 'strict', type: 'string', enum: ['strict', 'lenient'], title: 'Scope mode' },
    });
  });

  it('turns a nullable type list into its type, without the null value or default (jwt-auth tokenService.signingAlgorithm)', () => {
    const shaped = formSchema({ type: 'object', properties: { signingAlgorithm: { default: null, type: ['string', 'null'], enum: ['RS256', 'ES256', null] } } });
    expect(shaped.properties).toEqual({ signingAlgorithm: { type: 'string', enum: ['RS256', 'ES256'], title: 'Signing algorithm' } });
  });

  it('keeps the choice on an optional object, "Not set" first, and words a constant alternative and a union branch by their value', () => {
    const shaped = formSchema({
      type: 'object',
      properties: {
        oidc: { default: null, anyOf: [{ type: 'object', properties: { clientType: { type: 'string' } } }, { type: 'null' }] },
        lifetime: {
          anyOf: [
            { type: 'string', const: 'never' },
            { type: 'object', properties: { amount: { type: 'integer' } } },
          ],
        },
        bind: {
          oneOf: [
            { type: 'object', properties: { mode: { type: 'string', const: 'direct' } } },
            { type: 'object', properties: { mode: { type: 'string', const: 'search' } } },
          ],
        },
      },
    }).properties as Record<string, { anyOf?: { title: string }[]; oneOf?: { title: string }[] }>;
    expect(shaped.oidc.anyOf!.map((b) => b.title)).toEqual(['Not set', 'Set']);
    expect(shaped.lifetime.anyOf!.map((b) => b.title)).toEqual(['Never', 'Set']);
    expect(shaped.bind.oneOf!.map((b) => b.title)).toEqual(['Direct', 'Search']);
  });

  it('leaves nulls out of a value the form shows (empty means the API default)', () => {
    expect(withoutNulls({ a: null, b: { c: null, d: 1 }, e: [{ f: null }] })).toEqual({ b: { d: 1 }, e: [{}] });
  });

  it('puts the findings on a whole-body form on their fields (prefix "")', () => {
    const issues = [
      { path: 'oidc.tokenEndpointAuthMethod', message: 'a public client authenticates with "none"' },
      { path: '', message: 'invalid body' },
    ];
    expect(errorTreeFor(issues, '')).toEqual({ __errors: ['invalid body'], oidc: { tokenEndpointAuthMethod: { __errors: ['a public client authenticates with "none"'] } } });
  });
});
