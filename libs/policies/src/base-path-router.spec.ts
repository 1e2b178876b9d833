import { BasePathRouter } from './base-path-router';

describe('BasePathRouter', () => {
  const router = new BasePathRouter([
    ['/demo', 'demo'],
    ['/demo/v2', 'v2'],
    ['/a/b/c', 'abc'],
  ]);

  it.each([
    ['/demo', 'demo'],
    ['/demo/', 'demo'],
    ['/demo/x/y', 'demo'],
    ['/demo/v2', 'v2'],
    ['/demo/v2/items', 'v2'],
    ['/demo/v23', 'demo'],
    ['/a/b/c/d/e/f/g', 'abc'],
  ])('routes %s to %s', (path, target) => expect(router.match(path)).toBe(target));

  it.each(['/demox', '/', '', '/other/demo', '/a/b', '/DEMO'])('does not route %s', (path) => expect(router.match(path)).toBeUndefined());

  it('builds a table of 200,000 base paths (no argument spread of them) and routes into it', () => {
    const big = new BasePathRouter<number>([...Array.from({ length: 200_000 }, (_, i) => [`/p${i}`, i] as const), ['/deep/a/b/c/d', -1]]);
    expect(big.match('/p199999/items')).toBe(199_999);
    expect(big.match('/deep/a/b/c/d/e')).toBe(-1);
    expect(big.match('/p200000')).toBeUndefined();
  });
});
