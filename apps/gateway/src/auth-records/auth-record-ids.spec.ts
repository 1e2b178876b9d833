import { authRecordSchema } from '@idm/config-bus';
import { AuthRecordIds } from './auth-record-ids';

/** The records' ids are the sinks' idempotency key (a UUID column): valid UUIDs, never repeated. */
describe('AuthRecordIds', () => {
  const isRecordId = (id: string) => authRecordSchema.shape.id.safeParse(id).success;

  it('gives valid, distinct UUIDs, one sequence step apart', () => {
    const ids = new AuthRecordIds();
    const many = Array.from({ length: 10_000 }, () => ids.next());
    expect(many.every(isRecordId)).toBe(true);
    expect(new Set(many).size).toBe(10_000);
    expect(many.slice(0, 2).map((id) => id.slice(24))).toEqual(['000000000000', '000000000001']);
  });

  it('draws another random part per Gateway start (instance), so restarts never repeat an id', () => {
    const [a, b] = [new AuthRecordIds(), new AuthRecordIds()];
    expect(a.next().slice(0, 24)).not.toBe(b.next().slice(0, 24));
  });

  it('draws a new random part when the sequence is used up', () => {
    const ids = new AuthRecordIds(3);
    const taken = Array.from({ length: 7 }, () => ids.next());
    expect(new Set(taken.map((id) => id.slice(0, 24))).size).toBe(3);
    expect(new Set(taken).size).toBe(7);
    expect(taken.map((id) => Number.parseInt(id.slice(24), 16))).toEqual([0, 1, 2, 0, 1, 2, 0]);
  });
});
