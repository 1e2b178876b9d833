import { PolicyConfigError } from './policy-config.error';
import { policyTypes } from './policy-schemas';
import { validatePolicySpecs } from './validate-policy-specs';

describe('validatePolicySpecs', () => {
  it('applies each type’s defaults', () => {
    expect(
      validatePolicySpecs([
        { type: 'api-key', config: {} },
        { type: 'basic-auth', config: { realm: 'r' } },
      ]),
    ).toEqual([
      { type: 'api-key', config: { header: 'x-api-key', queryParam: null, stripCredential: true } },
      { type: 'basic-auth', config: { realm: 'r', stripAuthorization: true, identitySources: [] } },
    ]);
  });

  it('reports every issue with a path relative to the policies array', () => {
    try {
      validatePolicySpecs([
        { type: 'api-key', config: { header: 'bad header', extra: 1 } },
        { type: 'nope', config: {} },
        { type: 'basic-auth', config: { realm: 'a"b' } },
      ]);
      throw new Error('expected PolicyConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(PolicyConfigError);
      const paths = (err as PolicyConfigError).issues.map((i) => i.path);
      expect(paths).toEqual(
        expect.arrayContaining([
          [0, 'config', 'header'],
          [0, 'config'],
          [1, 'type'],
          [2, 'config', 'realm'],
        ]),
      );
      expect((err as PolicyConfigError).issues.find((i) => i.path[0] === 0 && i.path.length === 2)?.message).toMatch(/extra/);
    }
  });

  it('lists the known types', () => {
    expect(policyTypes().sort()).toEqual(expect.arrayContaining(['api-key', 'base64-auth', 'basic-auth', 'digest-auth', 'rate-limit']));
  });
});
