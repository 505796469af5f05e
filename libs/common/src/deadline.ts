/**
 * The promise, or a rejection after `ms`. The promise keeps running; its late
 * outcome is ignored (callers use this where the work is idempotent, e.g. a
 * registration that a retry queue will repeat).
 */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    // A deadline alone never keeps the process alive.
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
