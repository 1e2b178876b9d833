import { newPublicationEpoch } from './publication-epoch';

describe('newPublicationEpoch', () => {
  it('orders epochs by creation time as strings (the Redis script compares them that way)', () => {
    const a = newPublicationEpoch(null, Date.UTC(2026, 0, 1));
    const b = newPublicationEpoch(null, Date.UTC(2026, 0, 1, 0, 0, 1));
    const far = newPublicationEpoch(null, Date.UTC(2090, 0, 1));
    expect([far, b, a].sort()).toEqual([a, b, far]);
    expect(newPublicationEpoch(null, Date.UTC(2026, 0, 1))).not.toBe(a); // same millisecond, still distinct
  });

  it('is always newer than the epoch it replaces, even when this clock is behind', () => {
    const ahead = newPublicationEpoch(null, Date.now() + 86_400_000);
    expect(newPublicationEpoch(ahead) > ahead).toBe(true);
  });
});
