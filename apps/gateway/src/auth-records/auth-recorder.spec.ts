import type { AuthRecord } from '@idm/config-bus';
import { AuthRecorder } from './auth-recorder';

/**
 * Who is told of what, and so which records the request path builds: with AUTH_RECORDS=false the
 * queue does not subscribe, and brute-force counting (a refusal listener) makes the proxy path
 * build its refusals' records only — never a success's, the bulk of the traffic.
 */
describe('AuthRecorder', () => {
  const record = (outcome: AuthRecord['outcome']) => ({ outcome }) as AuthRecord;

  it('wants no record at all without listeners (AUTH_RECORDS=false, brute force off)', () => {
    const recorder = new AuthRecorder();
    expect([recorder.active, recorder.wants(true), recorder.wants(false)]).toEqual([false, false, false]);
  });

  it('wants only refusals when only a refusal listener is subscribed (AUTH_RECORDS=false, brute force on)', () => {
    const recorder = new AuthRecorder();
    const told: string[] = [];
    recorder.subscribeRefusals((r) => told.push(r.outcome));
    expect([recorder.active, recorder.wants(true), recorder.wants(false)]).toEqual([false, true, false]);
    for (const outcome of ['success', 'denied', 'blocked', 'throttled'] as const) recorder.report(record(outcome));
    expect(told).toEqual(['denied', 'blocked', 'throttled']);
  });

  it('wants every decision with an every-decision listener (the queue), refusals reaching both kinds', () => {
    const recorder = new AuthRecorder();
    const all: string[] = [];
    const refusals: string[] = [];
    recorder.subscribe((r) => all.push(r.outcome));
    const stop = recorder.subscribeRefusals((r) => refusals.push(r.outcome));
    expect([recorder.wants(true), recorder.wants(false)]).toEqual([true, true]);
    recorder.report(record('success'));
    recorder.report(record('denied'));
    stop();
    recorder.report(record('denied'));
    expect([all, refusals]).toEqual([['success', 'denied', 'denied'], ['denied']]);
  });

  it('counts a listener that throws and still tells the others', () => {
    const recorder = new AuthRecorder();
    const told: string[] = [];
    recorder.subscribeRefusals(() => {
      throw new Error('bug');
    });
    recorder.subscribe((r) => told.push(r.outcome));
    recorder.report(record('denied'));
    expect([told, recorder.listenerFailures]).toEqual([['denied'], 1]);
  });
});
