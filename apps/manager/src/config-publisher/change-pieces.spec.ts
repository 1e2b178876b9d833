import type { SnapshotCredential, SnapshotProxy, SnapshotSigningKey } from '@idm/config-bus';
import { changePieces, type Delta } from './environment-changes';

const credential = (id: string) => ({ id }) as SnapshotCredential;
const proxy = (id: string) => ({ id }) as SnapshotProxy;
const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('changePieces', () => {
  it('leaves a delta within the limit whole', () => {
    const delta: Delta = { proxies: { upserted: [proxy('p')], removed: [] }, credentials: { upserted: ids(3, 'c').map(credential), removed: ['gone'] } };
    expect([...changePieces(delta, 5)]).toEqual([delta]);
  });

  it('splits a larger one into pieces of at most the limit, in order, proxies first, keys with the first', () => {
    const signingKeys = [{ kid: 'k1' }] as unknown as SnapshotSigningKey[];
    const delta: Delta = {
      proxies: { upserted: [proxy('p0'), proxy('p1')], removed: ['p-gone'] },
      credentials: { upserted: ids(600, 'c').map(credential), removed: ['c-gone'] },
      signingKeys,
      identitySources: [],
    };
    const pieces = [...changePieces(delta, 250)];

    expect(pieces.map((p) => p.proxies.upserted.length + p.proxies.removed.length + p.credentials.upserted.length + p.credentials.removed.length)).toEqual([250, 250, 104]);
    expect(pieces[0].proxies).toEqual({ upserted: [proxy('p0'), proxy('p1')], removed: ['p-gone'] });
    expect(pieces[0].credentials.removed).toEqual(['c-gone']);
    expect(pieces[0]).toMatchObject({ signingKeys, identitySources: [] });
    expect(pieces.slice(1).every((p) => p.signingKeys === undefined && p.identitySources === undefined && p.keyManagers === undefined)).toBe(true);
    expect(pieces.flatMap((p) => p.credentials.upserted.map((c) => c.id))).toEqual(ids(600, 'c'));
  });

  it('ends without an empty piece when the entities fill the last one exactly', () => {
    const delta: Delta = { proxies: { upserted: [], removed: [] }, credentials: { upserted: ids(500, 'c').map(credential), removed: [] } };
    expect([...changePieces(delta, 250)].map((p) => p.credentials.upserted.length)).toEqual([250, 250]);
  });
});
