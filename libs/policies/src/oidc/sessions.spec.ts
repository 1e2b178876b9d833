import type { KeyVersion } from '../jose-keys/key-versions';
import { CookieSealer } from './sealed-cookie';
import { InMemoryOidcSessionStore, type OidcSessionStore } from './session-store';
import { OidcSessions, SessionStoreUnavailable } from './sessions';

const key: KeyVersion = { kid: 'k1', retiresAt: Infinity, x5tS256: null, x5t: null, certificates: [], publicKey: null, privateKey: new Uint8Array(32).fill(7) };
const MINUTE = 60_000;

describe('oidc sessions (server side)', () => {
  let now = 1_000_000_000;
  const clock = () => now;
  /** Idle 30 minutes, absolute 2 hours. */
  const sessionsOn = (store: OidcSessionStore, proxy = 'proxy-a') =>
    new OidcSessions(store, new CookieSealer([key], proxy, clock), proxy, 'OIDC_SESSION', 30 * MINUTE, 120 * MINUTE, clock);

  it('resumes a started session until it is ended; the cookie carries no claim', async () => {
    const store = new InMemoryOidcSessionStore(clock);
    const sessions = sessionsOn(store);
    const cookie = await sessions.start({ sub: 'alice', email: 'alice@example.test' }, { idToken: 'id.token.here' });
    expect(Buffer.from(cookie.split('.')[2], 'base64url').toString('latin1')).not.toContain('alice');
    const live = await sessions.resume(cookie);
    expect(typeof live === 'object' && live.record.c).toEqual({ sub: 'alice', email: 'alice@example.test' });
    expect((await sessions.end(cookie))?.tokens.idToken).toBe('id.token.here');
    expect(await sessions.resume(cookie)).toBe('ended');
    expect(await sessions.end(cookie)).toBeNull();
    expect(await sessions.resume(undefined)).toBe('none');
    expect(await sessions.resume('v1.k1.AAAA')).toBe('invalid');
  });

  it('ends a session idle for longer than the idle timeout; requests keep it alive up to its absolute end', async () => {
    const sessions = sessionsOn(new InMemoryOidcSessionStore(clock));
    const idle = await sessions.start({ sub: 'idle' }, {});
    const busy = await sessions.start({ sub: 'busy' }, {});
    for (let minute = 20; minute <= 100; minute += 20) {
      now += 20 * MINUTE;
      expect([minute, typeof (await sessions.resume(busy))]).toEqual([minute, 'object']);
    }
    expect(await sessions.resume(idle)).toBe('ended');
    now += 21 * MINUTE; // 121 minutes after the start
    expect(await sessions.resume(busy)).toBe('ended');
  });

  it('never brings back a session a logout deleted (a late write loses)', async () => {
    const sessions = sessionsOn(new InMemoryOidcSessionStore(clock));
    const cookie = await sessions.start({ sub: 'alice' }, {});
    const live = await sessions.resume(cookie);
    if (typeof live !== 'object') throw new Error('expected a live session');
    await sessions.end(cookie);
    expect(await sessions.save({ ...live, record: { ...live.record, seen: now } })).toBe(false);
    expect(await sessions.resume(cookie)).toBe('ended');
  });

  it("opens neither another proxy's cookie nor a record copied under another key", async () => {
    const store = new InMemoryOidcSessionStore(clock);
    const a = sessionsOn(store, 'proxy-a');
    const cookie = await a.start({ sub: 'alice' }, {});
    expect(await sessionsOn(store, 'proxy-b').resume(cookie)).toBe('invalid');
    // Two sessions in one store; the first's record written under the second's key does not open there.
    const other = await a.start({ sub: 'bob' }, {});
    const records = (store as unknown as { records: Map<string, { value: string; until: number }> }).records;
    const [first, second] = [...records.keys()];
    records.set(second, records.get(first)!);
    expect(await a.resume(other)).toBe('ended');
    expect(typeof (await a.resume(cookie))).toBe('object');
  });

  it('reports a store that does not answer as SessionStoreUnavailable', async () => {
    const down: OidcSessionStore = {
      create: () => Promise.reject(new Error('ECONNREFUSED')),
      update: () => Promise.reject(new Error('ECONNREFUSED')),
      get: () => Promise.reject(new Error('ECONNREFUSED')),
      take: () => Promise.reject(new Error('ECONNREFUSED')),
    };
    const cookie = await sessionsOn(new InMemoryOidcSessionStore(clock)).start({ sub: 'alice' }, {});
    await expect(sessionsOn(down).start({ sub: 'alice' }, {})).rejects.toBeInstanceOf(SessionStoreUnavailable);
    await expect(sessionsOn(down).resume(cookie)).rejects.toBeInstanceOf(SessionStoreUnavailable);
    await expect(sessionsOn(down).end(cookie)).rejects.toBeInstanceOf(SessionStoreUnavailable);
  });
});
