import { errorTreeFor, issuesOutside } from './server-errors';

describe('server field issues on generated forms', () => {
  const issues = [
    { path: 'policies.1.config.limits.0.limit', message: 'must be at least 1' },
    { path: 'policies.1.config', message: 'unknown key "x"' },
    { path: 'policies.10.config.header', message: 'too long' },
    { path: 'basePath', message: 'must look like /segment' },
  ];

  it('nests the issues of one policy under its fields, leaving out other policies (1 is not 10)', () => {
    expect(errorTreeFor(issues, 'policies.1.config')).toEqual({ __errors: ['unknown key "x"'], limits: { 0: { limit: { __errors: ['must be at least 1'] } } } });
    expect(errorTreeFor(issues, 'policies.10.config')).toEqual({ header: { __errors: ['too long'] } });
    expect(errorTreeFor(issues, 'policies.2.config')).toEqual({});
  });

  it('keeps the issues no field shows for the summary', () => {
    expect(issuesOutside(issues, ['policies', 'name'])).toEqual([{ path: 'basePath', message: 'must look like /segment' }]);
  });
});
