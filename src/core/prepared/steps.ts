/**
 * Long file work written as a generator that yields between chunks, so one body serves both a
 * caller that must not block (the worker, whose cancel message is only read between tasks) and one
 * that may (a CLI export).
 */
export type Steps<T> = Generator<void, T, void>;

export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Runs the steps, letting the event loop in between them (messages, timers). */
export async function runStepsAsync<T>(steps: Steps<T>): Promise<T> {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
