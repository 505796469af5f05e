/**
 * Deadlines for the hot path: every tracked completion waits on two (its
 * registration and its trace append), and a Node timer each — created,
 * unref'd, cleared — cost more than the wait they guard. Calls starting
 * within the same BUCKET_MS window with the same deadline share one timer;
 * a call settled before it fires is skipped. A deadline therefore fires
 * between `ms` and `ms + BUCKET_MS` after the call.
 */
const BUCKET_MS = 10;

interface Waiter {
  settled: boolean;
  expire(): void;
}

interface Bucket {
  /** BUCKET_MS window the bucket takes calls in. */
  slot: number;
  waiters: Waiter[];
}

/** Per deadline length (ms): the bucket taking calls now. */
const open = new Map<number, Bucket>();

function bucketFor(ms: number): Bucket {
  const slot = Math.floor(performance.now() / BUCKET_MS);
  const current = open.get(ms);
  if (current && current.slot === slot) return current;
  const bucket: Bucket = { slot, waiters: [] };
  open.set(ms, bucket);
  const timer = setTimeout(() => {
    if (open.get(ms) === bucket) open.delete(ms);
    for (const waiter of bucket.waiters) {
      if (!waiter.settled) {
        waiter.settled = true;
        waiter.expire();
      }
    }
  }, ms + BUCKET_MS);
  // A deadline alone never keeps the process alive.
  timer.unref();
  return bucket;
}

/**
 * The promise, or a rejection after `ms` (to `ms + 10`). The promise keeps
 * running; its late outcome is ignored (callers use this where the work is
 * idempotent, e.g. a registration that a retry queue will repeat).
 */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const waiter: Waiter = { settled: false, expire: () => reject(new Error(`no answer within ${ms} ms`)) };
    bucketFor(ms).waiters.push(waiter);
    promise.then(
      (value) => {
        if (waiter.settled) return;
        waiter.settled = true;
        resolve(value);
      },
      (err: unknown) => {
        if (waiter.settled) return;
        waiter.settled = true;
        reject(err);
      },
    );
  });
}
