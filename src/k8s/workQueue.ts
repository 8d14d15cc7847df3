// The operator's rate-limited work queue, after client-go util/workqueue (queue.go,
// delaying_queue.go, default_rate_limiters.go) as controller-runtime uses it:
// - keys, never payloads: a reconcile re-reads the object (level-based);
// - per-key dedup: a key added while queued is queued once; added while being processed, it
//   runs once more after done() — never twice at the same time;
// - per-key exponential backoff for failures: 5 ms × 2^(failures) capped at 1000 s
//   (ItemExponentialFailureRateLimiter(5ms, 1000s)), reset by forget();
// - addAfter for requeueAfter: the earliest pending time wins.

export interface RateLimiter {
  /** Delay before the next retry of key (ms); counts one more failure. */
  when(key: string): number;
  forget(key: string): void;
  failures(key: string): number;
}

/** client-go's ItemExponentialFailureRateLimiter: base × 2^failures, capped. */
export function makeExponentialRateLimiter(baseMs = 5, maxMs = 1_000_000): RateLimiter {
  const counts = new Map<string, number>();
  return {
    when(key) {
      const n = counts.get(key) ?? 0;
      counts.set(key, n + 1);
      // 2^n overflows to Infinity for large n; the cap keeps it finite.
      return Math.min(baseMs * 2 ** n, maxMs);
    },
    forget: (key) => void counts.delete(key),
    failures: (key) => counts.get(key) ?? 0,
  };
}

export interface WorkQueue {
  add(key: string): void;
  addAfter(key: string, delayMs: number): void;
  /** add after the rate limiter's delay for key (a failed reconcile). */
  addRateLimited(key: string): void;
  /** The key succeeded: its backoff starts again from the base. */
  forget(key: string): void;
  /** Waits for the next key; undefined once shut down. */
  get(): Promise<string | undefined>;
  /** Marks key processed; re-queues it when it was added meanwhile. */
  done(key: string): void;
  /** Keys waiting to be processed (not those delayed or in process). */
  readonly length: number;
  shutDown(): void;
}

export function makeWorkQueue(limiter: RateLimiter = makeExponentialRateLimiter(), onDepth: (n: number) => void = () => {}): WorkQueue {
  const queue: string[] = [];
  const dirty = new Set<string>();
  const processing = new Set<string>();
  const timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  const waiters: ((key: string | undefined) => void)[] = [];
  let shuttingDown = false;

  const push = (key: string) => {
    const waiter = waiters.shift();
    if (waiter) {
      dirty.delete(key);
      processing.add(key);
      waiter(key);
    } else queue.push(key);
    onDepth(queue.length);
  };

  const add = (key: string) => {
    if (shuttingDown || dirty.has(key)) return;
    dirty.add(key);
    if (!processing.has(key)) push(key);
  };

  const addAfter = (key: string, delayMs: number) => {
    if (shuttingDown) return;
    if (delayMs <= 0) return add(key);
    const at = Date.now() + delayMs;
    const pending = timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      timers.delete(key);
      add(key);
    }, delayMs);
    timer.unref();
    timers.set(key, { at, timer });
  };

  return {
    add,
    addAfter,
    addRateLimited: (key) => addAfter(key, limiter.when(key)),
    forget: (key) => limiter.forget(key),
    get() {
      if (shuttingDown) return Promise.resolve(undefined);
      const key = queue.shift();
      if (key !== undefined) {
        dirty.delete(key);
        processing.add(key);
        onDepth(queue.length);
        return Promise.resolve(key);
      }
      return new Promise((resolve) => waiters.push(resolve));
    },
    done(key) {
      processing.delete(key);
      if (dirty.has(key)) push(key);
    },
    get length() {
      return queue.length;
    },
    shutDown() {
      shuttingDown = true;
      for (const t of timers.values()) clearTimeout(t.timer);
      timers.clear();
      for (const w of waiters.splice(0)) w(undefined);
    },
  };
}

/**
 * Runs `workers` loops taking keys from the queue until it shuts down. handler's outcome:
 * a thrown error → addRateLimited; { requeueAfter } → forget + addAfter; otherwise forget.
 */
export async function runWorkers(
  queue: WorkQueue,
  workers: number,
  handler: (key: string) => Promise<{ requeueAfter?: number } | void>,
  onError: (key: string, err: unknown) => void,
): Promise<void> {
  const loop = async () => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        const result = await handler(key);
        queue.forget(key);
        if (result?.requeueAfter !== undefined) queue.addAfter(key, result.requeueAfter);
      } catch (err) {
        onError(key, err);
        queue.addRateLimited(key);
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
}
