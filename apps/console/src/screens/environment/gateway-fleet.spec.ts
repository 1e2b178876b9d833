import type { GatewayStatus } from '../../api/types';
import { ageOf, fleetSummary, lastSeenOf } from './gateway-fleet';

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
