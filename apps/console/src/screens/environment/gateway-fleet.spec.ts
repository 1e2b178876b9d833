import type { EnvironmentGateways, GatewayStatus } from '../../api/types';
import { ageOf, fleetSummary, lastSeenOf, nextSighting, withCatchingUp, type RevisionSighting } from './gateway-fleet';

const gateway = (id: string, sync: GatewayStatus['sync'], behind: number | null, lastSeen = '2026-01-01T00:00:00.000Z'): GatewayStatus => ({
  id,
  version: '0.1.0',
  ready: true,
  revision: 5,
  sync,
  behind,
  appliedAt: null,
  startedAt: '2026-01-01T00:00:00.000Z',
  lastSeen,
  requestsPerSecond: 0,
});

describe('an environment’s Gateways in one phrase', () => {
  it('says how many serve the published revision, and how far the others lag', () => {
    expect(fleetSummary([])).toBe('No Gateway reporting.');
    expect(fleetSummary([gateway('a', 'in_sync', 0)])).toBe('1 Gateway, all in sync.');
    expect(fleetSummary([gateway('a', 'in_sync', 0), gateway('b', 'in_sync', 0)])).toBe('2 Gateways, all in sync.');
    expect(fleetSummary([gateway('a', 'in_sync', 0), gateway('b', 'behind', 2), gateway('c', 'behind', 5)])).toBe('3 Gateways: 2 behind by up to 5.');
    expect(fleetSummary([gateway('a', 'loading', null), gateway('b', 'behind', 1)])).toBe('2 Gateways: 1 behind by up to 1, 1 not comparable (loading or an older publication).');
  });

  it('tells the age of the last report in seconds, minutes or hours, never negative', () => {
    const now = Date.parse('2026-01-01T01:00:00.000Z');
    expect(ageOf('2026-01-01T00:59:56.000Z', now)).toBe('4 s ago');
    expect(ageOf('2026-01-01T01:00:03.000Z', now)).toBe('0 s ago');
    expect(ageOf('2026-01-01T00:50:00.000Z', now)).toBe('10 min ago');
    expect(ageOf('2025-12-31T21:00:00.000Z', now)).toBe('4 h ago');
  });

  it('takes the freshest report of the fleet', () => {
    expect(lastSeenOf([])).toBeNull();
    expect(lastSeenOf([gateway('a', 'in_sync', 0, '2026-01-01T00:00:01.000Z'), gateway('b', 'in_sync', 0, '2026-01-01T00:00:09.000Z')])).toBe('2026-01-01T00:00:09.000Z');
  });
});

describe('a Gateway the Manager calls behind right after a change', () => {
  const T1 = '2026-01-01T00:00:01.000Z';
  const T2 = '2026-01-01T00:00:06.000Z';
  const answer = (publishedRevision: number | null, gateways: GatewayStatus[]): EnvironmentGateways => ({ environment: 'prod', publishedRevision, gateways });
  const syncs = (gateways: GatewayStatus[], sighting: RevisionSighting) => withCatchingUp(gateways, sighting).map((g) => `${g.id}:${g.sync}`);

  it('is catching up until it reports again, then behind if it still serves the older revision', () => {
    // Revision 6 published; a's report (T1) may predate it: catching up, not behind.
    let sighting = nextSighting(undefined, answer(6, [gateway('a', 'behind', 1, T1), gateway('b', 'in_sync', 0, T1)]));
    expect(syncs([gateway('a', 'behind', 1, T1), gateway('b', 'in_sync', 0, T1)], sighting)).toEqual(['a:catching_up', 'b:in_sync']);
    expect(fleetSummary(withCatchingUp([gateway('a', 'behind', 1, T1), gateway('b', 'in_sync', 0, T1)], sighting))).toBe('2 Gateways: 1 catching up with the latest change.');
    // The same report polled again: still catching up.
    sighting = nextSighting(sighting, answer(6, [gateway('a', 'behind', 1, T1)]));
    expect(syncs([gateway('a', 'behind', 1, T1)], sighting)).toEqual(['a:catching_up']);
    // A newer report still at the older revision: really behind.
    sighting = nextSighting(sighting, answer(6, [gateway('a', 'behind', 1, T2)]));
    expect(syncs([gateway('a', 'behind', 1, T2)], sighting)).toEqual(['a:behind']);
    expect(fleetSummary(withCatchingUp([gateway('a', 'behind', 1, T2)], sighting))).toBe('1 Gateway: 1 behind by up to 1.');
  });

  it('starts over when another revision is published, and takes a Gateway first seen later at its first report', () => {
    let sighting = nextSighting(undefined, answer(6, [gateway('a', 'behind', 1, T1)]));
    sighting = nextSighting(sighting, answer(7, [gateway('a', 'behind', 2, T2)]));
    expect(syncs([gateway('a', 'behind', 2, T2)], sighting)).toEqual(['a:catching_up']);
    sighting = nextSighting(sighting, answer(7, [gateway('a', 'behind', 2, T2), gateway('c', 'behind', 1, T2)]));
    expect(syncs([gateway('c', 'behind', 1, T2)], sighting)).toEqual(['c:catching_up']);
    expect(nextSighting(sighting, answer(7, [gateway('c', 'behind', 1, T2)]))).toBe(sighting);
  });
});
