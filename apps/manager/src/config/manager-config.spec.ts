import { ConfigError, parseManagerConfig } from './manager-config';

const base = { IDM_ADMIN_PASSWORD: 'a long enough password' };

describe('MANAGER_TRUST_PROXY', () => {
  it.each([
    [undefined, false],
    ['false', false],
    ['true', true],
    ['2', 2],
    ['10.0.0.0/8, 127.0.0.1', '10.0.0.0/8, 127.0.0.1'],
    ['::1,fd00::/8', '::1,fd00::/8'],
  ])('reads %p as %p', (value, expected) => {
    expect(parseManagerConfig({ ...base, ...(value === undefined ? {} : { MANAGER_TRUST_PROXY: value }) }).MANAGER_TRUST_PROXY).toEqual(expected);
  });

  it('refuses anything else, naming the variable', () => {
    expect(() => parseManagerConfig({ ...base, MANAGER_TRUST_PROXY: 'yes please' })).toThrow(ConfigError);
    expect(() => parseManagerConfig({ ...base, MANAGER_TRUST_PROXY: 'yes please' })).toThrow(/MANAGER_TRUST_PROXY/);
  });
});
