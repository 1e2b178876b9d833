import { requestTargetRejection } from './request-path';

describe('requestTargetRejection', () => {
  const code = (path: string, query = '') => requestTargetRejection(path, query)?.code ?? null;

  it.each([
    ['/..', 'plain'],
    ['/a/./b', 'single dot'],
    ['/..;/admin', 'Tomcat/Jetty/Spring path parameter'],
    ['/..;jsessionid=1', 'path parameter with a value'],
    ['/.;x', 'single dot with a parameter'],
    ['/%2e%2e/admin', 'encoded'],
    ['/%2E%2e%3B/admin', 'encoded, mixed case, encoded ";"'],
    ['/%252e%252e/admin', 'double-encoded'],
    ['/a%2f..%2fadmin', 'encoded slash'],
    ['/a\\..\\admin', 'backslash'],
    ['/a%5c..', 'encoded backslash'],
    ['/%c0%ae%c0%ae/', 'overlong UTF-8'],
    ['/%e0%80%ae./', 'three-byte overlong UTF-8'],
    ['/%ef%bc%8e%ef%bc%8e/', 'fullwidth full stops'],
    ['/..%c0%afadmin', 'overlong slash'],
    ['/%u002e%u002e/', 'IIS %u'],
    ['/.. /admin', 'trailing space (Windows)'],
    ['/..%09/admin', 'trailing tab'],
  ])('refuses %s (%s) as a dot segment', (path) => {
    expect(code(path)).toBe('invalid_path');
  });

  it('refuses NUL bytes in the path (also double-encoded) and in the query', () => {
    expect(code('/.%00./x')).toBe('invalid_path');
    expect(code('/file%2500.json')).toBe('invalid_path');
    expect(code('/x', 'a=%00')).toBe('invalid_query');
  });

  it('refuses a path encoded more times over than any stack decodes', () => {
    expect(requestTargetRejection('/%2525252e', '')?.message).toMatch(/too many times/);
  });

  it.each(['', '/', '/a/b', '/v1.2/file.tar.gz', '/.well-known/x', '/...', '/..a', '/a..', '/.a;b', '/a;b=1/c', '/100%25', '/%2e%2ea', '/a%20b', '/%zz'])(
    'lets %s through',
    (path) => {
      expect(code(path, 'q=1&r=%2e%2e')).toBeNull();
    },
  );
});
