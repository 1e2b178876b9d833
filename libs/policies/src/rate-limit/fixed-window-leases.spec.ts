import { FixedWindowLeases } from './fixed-window-leases';

describe('FixedWindowLeases', () => {
  it('adds grants (minus the request each came with) and keeps the lowest remaining Redis reported', () => {
    const leases = new FixedWindowLeases();
    leases.granted('k', 1000, 60_000, 62, 938, 0);
    const lease = leases.granted('k', 1000, 60_000, 58, 880, 0);
    expect(lease).toMatchObject({ left: 61 + 57, redisRemaining: 880 });
    leases.granted('k', 1000, 60_000, 1, 900, 0); // a late answer never raises it
    expect(leases.find('k', 1000)).toMatchObject({ left: 118, redisRemaining: 880 });
  });

  it('keeps what is left of a lease when Redis reports the counter used up', () => {
    const leases = new FixedWindowLeases();
    leases.granted('k', 100, 60_000, 6, 94, 0);
    leases.exhausted('k', 100, 60_000, 0);
    expect(leases.find('k', 100)).toMatchObject({ left: 5, redisRemaining: 0 });
    leases.exhausted('fresh', 100, 60_000, 0);
    expect(leases.find('fresh', 100)).toMatchObject({ left: 0, redisRemaining: 0 });
  });

  it('ignores what was recorded under another limit (an older revision) and replaces it', () => {
    const leases = new FixedWindowLeases();
    leases.exhausted('k', 3, 60_000, 0);
    expect(leases.find('k', 5)).toBeUndefined();
    leases.granted('k', 5, 60_000, 1, 1, 0);
    expect(leases.find('k', 5)).toMatchObject({ left: 0, redisRemaining: 1, limit: 5 });
    expect(leases.find('k', 3)).toBeUndefined();
  });

  it('sweeps leases of ended windows once the map grows, so memory stays bounded', () => {
    const leases = new FixedWindowLeases();
    const size = () => leases['byKey'].size;
    for (let i = 0; i < 1024; i++) leases.granted(`old-${i}`, 10, 60_000, 1, 9, 0);
    expect(size()).toBe(1024);
    // The next window: adding one more drops every lease whose window ended.
    leases.granted('new-0', 10, 120_000, 1, 9, 60_000);
    expect(size()).toBe(1);
    for (let i = 1; i < 2000; i++) leases.granted(`new-${i}`, 10, 120_000, 1, 9, 60_000);
    expect(size()).toBe(2000); // all live: kept, and swept again only after doubling
  });
});
