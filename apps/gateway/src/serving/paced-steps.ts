/**
 * Work split into steps: a generator that yields wherever the event loop may run, then returns
 * its result. The same build runs at once (`runNow`: tests, small changes) or paced
 * (`runPaced`: a full load of a million credentials, which must not stall requests).
 */
export type Steps<T> = Generator<void, T, void>;

/** Longest stretch of work between two yields (the target is "no stall over 50 ms"). */
const SLICE_MS = 5;
/** The clock is read once per this many items, not per item. */
const CHECK_EVERY = 16;

/** Runs `each` over `items`, yielding once per SLICE_MS of work. */
export function* paced<T>(items: Iterable<T>, each: (item: T) => void): Steps<void> {
  let sliceStart = performance.now();
  let n = 0;
  for (const item of items) {
    each(item);
    if (++n % CHECK_EVERY === 0 && performance.now() - sliceStart >= SLICE_MS) {
      yield;
      sliceStart = performance.now();
    }
  }
}

export function runNow<T>(steps: Steps<T>): T {
  let step = steps.next();
  while (!step.done) step = steps.next();
  return step.value;
}

/** Resolves in a later turn of the event loop, after the timers, I/O and requests already due. */
export const nextTurn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/** Lets the event loop run (timers, I/O, requests) between steps. */
export async function runPaced<T>(steps: Steps<T>): Promise<T> {
  let step = steps.next();
  while (!step.done) {
    await nextTurn();
    step = steps.next();
  }
  return step.value;
}
