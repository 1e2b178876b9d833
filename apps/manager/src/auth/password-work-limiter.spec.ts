import { PasswordWorkLimiter } from './password-work-limiter';
import { ProblemError } from '../problems/problem.error';

/** Work that finishes when the test says so. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, work: async () => opened };
}

describe('PasswordWorkLimiter', () => {
  it('runs at most `concurrency` at once, queues `queue` more in order and refuses the rest with 503', async () => {
    const limiter = new PasswordWorkLimiter({ MANAGER_PASSWORD_HASH_CONCURRENCY: 2, MANAGER_PASSWORD_HASH_QUEUE: 2 });
    const started: number[] = [];
    const gates = Array.from({ length: 4 }, () => gate());
    const runs = gates.map((g, i) => limiter.run(async () => (started.push(i), g.work())));
    await expect(limiter.run(async () => 'never')).rejects.toMatchObject({ status: 503, code: 'password_checks_busy', headers: { 'retry-after': '1' } });
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    gates[1].open();
    await runs[1];
    expect(started).toEqual([0, 1, 2]);
    gates[0].open();
    await runs[0];
    expect(started).toEqual([0, 1, 2, 3]);
    gates[2].open();
    gates[3].open();
    await Promise.all(runs);
    expect(await limiter.run(async () => 'free again')).toBe('free again');
  });

  it('frees the slot when the work fails', async () => {
    const limiter = new PasswordWorkLimiter({ MANAGER_PASSWORD_HASH_CONCURRENCY: 1, MANAGER_PASSWORD_HASH_QUEUE: 0 });
    await expect(limiter.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limiter.run(async () => 'ok')).toBe('ok');
    const held = gate();
    const running = limiter.run(held.work);
    await expect(limiter.run(async () => 'too many')).rejects.toBeInstanceOf(ProblemError);
    held.open();
    await running;
  });
});
