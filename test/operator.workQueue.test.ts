// The operator's work queue (src/k8s/workQueue.ts): client-go's semantics for dedup,
// processing exclusivity, per-key exponential backoff and addAfter.
import { describe, expect, it } from 'vitest';
import { makeExponentialRateLimiter, makeWorkQueue, runWorkers } from '../src/k8s/workQueue.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rate limiter', () => {
  it('doubles from 5 ms per failure of a key, caps at 1000 s, and forget resets it', () => {
    const l = makeExponentialRateLimiter();
    expect([l.when('a'), l.when('a'), l.when('a'), l.when('a')]).toEqual([5, 10, 20, 40]);
    expect(l.when('b')).toBe(5); // per key
    for (let i = 0; i < 40; i++) l.when('a');
    expect(l.when('a')).toBe(1_000_000);
    expect(l.failures('a')).toBe(45);
    l.forget('a');
    expect(l.when('a')).toBe(5);
  });
});

describe('work queue', () => {
  it('collapses many adds of one key into one item', async () => {
    const depths: number[] = [];
    const q = makeWorkQueue(undefined, (n) => depths.push(n));
    for (let i = 0; i < 5; i++) q.add('ns/a');
    q.add('ns/b');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
    expect(q.length).toBe(0);
    expect(depths.at(-1)).toBe(0);
  });

  it('never hands out a key being processed; a re-add during processing runs once after done', async () => {
    const q = makeWorkQueue();
    q.add('k');
    const k = await q.get();
    q.add('k');
    q.add('k');
    expect(q.length).toBe(0); // held back while processing
    q.done(k!);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('k');
    q.done('k');
    expect(q.length).toBe(0);
  });

  it('addAfter keeps the earliest time and get() waits for it', async () => {
    const q = makeWorkQueue();
    const started = Date.now();
    q.addAfter('k', 500);
    q.addAfter('k', 30); // earlier wins
    q.addAfter('k', 800); // later ignored
    expect(await q.get()).toBe('k');
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(25);
    expect(waited).toBeLessThan(400);
  });

  it('runWorkers retries a failing key with growing delays and forgets it after success', async () => {
    const q = makeWorkQueue();
    const attempts: number[] = [];
    let calls = 0;
    const done = runWorkers(
      q,
      2,
      async () => {
        attempts.push(Date.now());
        if (++calls < 4) throw new Error('apiserver 500');
        q.shutDown();
      },
      () => {},
    );
    q.add('k');
    await done;
    expect(calls).toBe(4);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]);
    // 5, 10, 20 ms (timers are at least that late)
    expect(gaps[0]).toBeGreaterThanOrEqual(4);
    expect(gaps[2]).toBeGreaterThanOrEqual(19);
  });

  it('requeueAfter schedules the key again; shutDown releases waiting workers', async () => {
    const q = makeWorkQueue();
    let calls = 0;
    const run = runWorkers(q, 3, async () => (++calls === 1 ? { requeueAfter: 20 } : undefined), () => {});
    q.add('k');
    await sleep(100);
    expect(calls).toBe(2);
    q.shutDown();
    await run;
    q.add('k');
    expect(await q.get()).toBeUndefined();
  });
});
