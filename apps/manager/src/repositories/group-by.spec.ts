import { groupBy } from './group-by';

describe('groupBy', () => {
  it('groups rows by key in one pass, keeping their order within each group', () => {
    const rows = [
      { owner: 'a', n: 1 },
      { owner: 'b', n: 2 },
      { owner: 'a', n: 3 },
    ];
    const groups = groupBy(rows, (r) => r.owner);
    expect([...groups.keys()]).toEqual(['a', 'b']);
    expect(groups.get('a')!.map((r) => r.n)).toEqual([1, 3]);
    expect(groups.get('b')!.map((r) => r.n)).toEqual([2]);
    expect(groups.get('c')).toBeUndefined();
  });
});
