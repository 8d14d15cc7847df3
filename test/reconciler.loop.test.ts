// The reconcile loop's decisions (src/reconciler/loop.ts, settlement.ts) without a database:
// how many items it claims, how it batches them, when it claims again, sleeps or wakes, how it
// backs off while the database is down and how each item ends. The loop runs against an
// in-memory double of its statements (test/helpers/memoryQueue.ts); the statements themselves
// are tested against real Postgres (reconciler.test.ts, reconciler.guard.test.ts, …).
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AbortedError, TerminalError } from '../src/reconciler/errors.js';
import { claimLimits, idleMs, lanes, MAX_BATCH, nextBatch, ReconcileLoop, type LoopSettings } from '../src/reconciler/loop.js';
import { settlementOf, type Settled } from '../src/reconciler/settlement.js';
import type { WorkItem } from '../src/store/reconcileQueue.js';
import { TargetRejectedError, TargetRetryLaterError } from '../src/targets/target.js';
import { MemoryQueue } from './helpers/memoryQueue.js';

const SETTINGS: LoopSettings = {
  concurrency: 2, resyncConcurrency: 1, pollMs: 60_000, leaseMs: 30_000, retryBaseMs: 1_000, retryMaxMs: 8_000,
  failingAfter: 5, eventsRetentionDays: 30, auditRetentionDays: 90, shutdownTimeoutMs: 2_000,
};

const item = (id: string, organizationId: string, userId: string | null = `user-${id}`, attempts = 1): WorkItem =>
  ({ id, organizationId, userId, changedAt: '2025-01-01T00:00:00Z', revision: '1', attempts, resync: false, lockedAt: '2025-01-01T00:00:00Z' });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 2_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A logger whose JSON lines land in `lines`. */
function capturingLog() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write: (chunk, _enc, cb) => (lines.push(JSON.parse(String(chunk))), cb()) }));
  return { log, lines };
}

type Reconcile = (items: WorkItem[]) => Promise<Settled[]>;

function makeLoop(queue: MemoryQueue, reconcile: Reconcile, settings: Partial<LoopSettings> = {}, once = false) {
  const stop = new AbortController();
  const { log, lines } = capturingLog();
  const loop = new ReconcileLoop({ store: queue, reconcile, settings: { ...SETTINGS, ...settings }, workerId: 'w1', log, signal: stop.signal, once });
  return { loop, stop, lines, signal: stop.signal };
}

/** A pass double that succeeds and records each batch it was given. */
function recordingPass() {
  const batches: WorkItem[][] = [];
  const reconcile: Reconcile = async (items) => {
    batches.push(items);
    await sleep(1);
    return items.map((i) => ({ item: i, result: {} }));
  };
  return { batches, reconcile };
}

describe('claim and batch decisions', () => {
  it('claims a batch per free user slot and one item per free organization slot', () => {
    expect(claimLimits({ concurrency: 4, resyncConcurrency: 2 }, { users: 0, organizations: 0 }, 1)).toEqual({ users: 4, organizations: 2 });
    expect(claimLimits({ concurrency: 4, resyncConcurrency: 2 }, { users: 1, organizations: 2 }, 4)).toEqual({ users: 12, organizations: 0 });
  });

  it('doubles the batch while claims come back full, up to MAX_BATCH, and resets it once a claim fits one per slot', () => {
    expect(nextBatch(1, 4, 4, 4)).toBe(2);
    expect(nextBatch(8, 4, 32, 32)).toBe(16);
    expect(nextBatch(MAX_BATCH, 4, 64, 64)).toBe(MAX_BATCH);
    expect(nextBatch(8, 4, 3, 32)).toBe(1);
    expect(nextBatch(8, 4, 4, 32)).toBe(1);
    // Between one per slot and a full claim: keep the size.
    expect(nextBatch(8, 4, 10, 32)).toBe(8);
    // No free slot (nothing could be claimed): unchanged.
    expect(nextBatch(8, 0, 0, 0)).toBe(8);
  });

  it('splits user items into per-organization batches spread over the slots', () => {
    const a = Array.from({ length: 5 }, (_, i) => item(`a${i}`, 'A'));
    const b = Array.from({ length: 3 }, (_, i) => item(`b${i}`, 'B'));
    const ids = (l: WorkItem[][][]) => l.map((lane) => lane.map((batch) => batch.map((i) => i.id)));
    // 8 items over 2 slots: batches of up to 4, never two organizations in one.
    expect(ids(lanes([...a, ...b], 2))).toEqual([[['a0', 'a1', 'a2', 'a3'], ['b0', 'b1', 'b2']], [['a4']]]);
    // Idle: one item per slot.
    expect(ids(lanes([a[0], b[0]], 4))).toEqual([[['a0']], [['b0']]]);
    const many = lanes(Array.from({ length: 100 }, (_, i) => item(`m${i}`, 'M')), 2);
    // 100 items over 2 slots: batches capped at MAX_BATCH, dealt round-robin to the two lanes.
    expect(many.map((lane) => lane.map((b) => b.length))).toEqual([[16, 16, 16, 4], [16, 16, 16]]);
  });

  it('waits the poll when idle, a capped jittered backoff while the database is down', () => {
    expect(idleMs(0, 500)).toBe(500);
    for (let i = 0; i < 20; i++) {
      expect(idleMs(1, 500)).toBeGreaterThanOrEqual(125);
      expect(idleMs(1, 500)).toBeLessThanOrEqual(250);
      expect(idleMs(12, 500)).toBeGreaterThanOrEqual(2_500);
      expect(idleMs(12, 500)).toBeLessThanOrEqual(5_000);
    }
  });
});

describe('settlement of an item (classifyError)', () => {
  const s = { retryBaseMs: 100, retryMaxMs: 1_000 };
  const it1 = item('1', 'A', 'u', 3);

  it('completes a successful pass unless it completed the item itself; requeues a requeueAfter', () => {
    expect(settlementOf(it1, { result: {} }, s)).toEqual({ result: 'success', complete: true });
    expect(settlementOf(it1, { result: { completed: true } }, s)).toEqual({ result: 'success', complete: false });
    expect(settlementOf(it1, { result: { requeueAfter: 250 } }, s)).toEqual({ result: 'requeue', retryInMs: 250, error: null, bestEffort: false });
  });

  it('gives an aborted item back, stops retrying terminal errors, honours Retry-After', () => {
    expect(settlementOf(it1, { error: new AbortedError() }, s)).toEqual({ result: 'aborted' });
    expect(settlementOf(it1, { error: new TerminalError('bad spec') }, s)).toMatchObject({ result: 'terminal', error: 'bad spec' });
    expect(settlementOf(it1, { error: new TargetRejectedError('401 from the target', 401) }, s)).toMatchObject({ result: 'terminal', error: '401 from the target' });
    expect(settlementOf(it1, { error: new TargetRetryLaterError('429', 7_000) }, s)).toEqual({ result: 'requeue', retryInMs: 7_000, error: '429', bestEffort: true });
  });

  it('retries anything else with exponential backoff by attempts, capped, never under half the ceiling', () => {
    for (let i = 0; i < 20; i++) {
      const third = settlementOf(it1, { error: new Error('boom') }, s);
      expect(third).toMatchObject({ result: 'error', error: 'boom' });
      const ms = (third as { retryInMs: number }).retryInMs;
      expect(ms).toBeGreaterThanOrEqual(200); // ceiling 100 × 2² = 400
      expect(ms).toBeLessThanOrEqual(400);
      const late = settlementOf(item('2', 'A', 'u', 12), { error: 'not even an Error' }, s) as { retryInMs: number; error: string };
      expect(late.retryInMs).toBeGreaterThanOrEqual(500);
      expect(late.retryInMs).toBeLessThanOrEqual(1_000);
      expect(late.error).toBe('not even an Error');
    }
  });
});

describe('the loop against an in-memory queue', () => {
  it('--once drains a backlog: batches grow under load, never mix organizations, every item completes once', async () => {
    const queue = new MemoryQueue();
    for (let i = 0; i < 40; i++) queue.add('A', `a${i}`);
    for (let i = 0; i < 10; i++) queue.add('B', `b${i}`);
    const orgItem = queue.add('C', null);
    const { batches, reconcile } = recordingPass();
    const { loop } = makeLoop(queue, reconcile, {}, true);
    await loop.run();
    expect(await loop.drain()).toBe(true);
    expect(queue.rows.size).toBe(0);
    expect(queue.completed.sort()).toEqual([...Array.from({ length: 51 }, (_, i) => String(i + 1))].sort());
    // The first claim: one item per free slot.
    expect(queue.claims[0].limits).toEqual({ users: 2, organizations: 1 });
    // Full claims doubled the batch: some claim asked for more than one per slot, and some pass got a batch.
    expect(Math.max(...queue.claims.map((c) => c.limits.users))).toBeGreaterThan(2);
    expect(Math.max(...queue.claims.map((c) => c.limits.users))).toBeLessThanOrEqual(2 * MAX_BATCH);
    expect(Math.max(...batches.map((b) => b.length))).toBeGreaterThan(1);
    for (const b of batches) {
      expect(new Set(b.map((i) => i.organizationId)).size).toBe(1);
      expect(b.length).toBeLessThanOrEqual(MAX_BATCH);
    }
    expect(batches.filter((b) => b.some((i) => i.id === orgItem))).toEqual([[expect.objectContaining({ id: orgItem, userId: null })]]);
  });

  it('settles each outcome: complete, retry with backoff, terminal (recorded, completed), requeueAfter, Retry-After', async () => {
    const queue = new MemoryQueue();
    const ok = queue.add('A', 'ok');
    const failing = queue.add('A', 'failing');
    const rejected = queue.add('A', 'rejected');
    const later = queue.add('A', 'later');
    const org = queue.add('A', null);
    const outcomes: Record<string, (i: WorkItem) => Settled> = {
      [failing]: (i) => ({ item: i, error: new Error('boom') }),
      [rejected]: (i) => ({ item: i, error: new TerminalError('bad') }),
      [later]: (i) => ({ item: i, result: { requeueAfter: 5_000 } }),
      [org]: (i) => ({ item: i, error: new TargetRetryLaterError('429 from the target', 3_000) }),
    };
    const reconcile: Reconcile = async (items) => items.map((i) => outcomes[i.id]?.(i) ?? { item: i, result: {} });
    const { loop, lines } = makeLoop(queue, reconcile, { concurrency: 8 }, true);
    const started = Date.now();
    await loop.run();
    expect(await loop.drain()).toBe(true);
    expect(queue.rows.has(ok)).toBe(false);
    expect(queue.rows.has(rejected)).toBe(false);
    expect(queue.terminal).toEqual([{ organizationId: 'A', pass: 'user', message: 'bad' }]);
    expect(lines.find((l) => l.msg.startsWith('reconcile item failed permanently'))?.level).toBe(50);
    const row = (id: string) => queue.rows.get(id)!;
    // Attempt 1 of a plain error: backoff between half and all of retryBaseMs.
    expect(row(failing)).toMatchObject({ lastError: 'boom', lockedBy: null, attempts: 1 });
    expect(row(failing).runAt - started).toBeGreaterThanOrEqual(500);
    expect(row(failing).runAt - started).toBeLessThanOrEqual(1_000 + (Date.now() - started));
    expect(lines.find((l) => l.msg === 'reconcile failed; will retry')).toMatchObject({ level: 40, attempts: 1 });
    // requeueAfter: no error recorded, polled again after the given delay.
    expect(row(later)).toMatchObject({ lastError: null, lockedBy: null });
    expect(queue.retried.find((r) => r.id === later)).toEqual({ id: later, delayMs: 5_000, error: null });
    // The target's Retry-After: requeued after its delay, without backoff.
    expect(queue.retried.find((r) => r.id === org)).toEqual({ id: org, delayMs: 3_000, error: '429 from the target' });
  });

  it('sleeps when idle (no busy polling) and wakes on notify', async () => {
    const queue = new MemoryQueue();
    const { reconcile } = recordingPass();
    const { loop, stop } = makeLoop(queue, reconcile, { pollMs: 60_000 });
    const running = loop.run();
    await until(() => queue.claims.length === 1, 2_000, 'the first claim');
    await sleep(150);
    expect(queue.claims).toHaveLength(1);
    const id = queue.add('A', 'u1');
    loop.notify();
    await until(() => queue.completed.includes(id), 1_000, 'the notified item');
    expect(queue.claims.length).toBeGreaterThanOrEqual(2);
    const t = Date.now();
    stop.abort();
    await running;
    expect(Date.now() - t).toBeLessThan(1_000); // the abort ends the 60 s sleep
    expect(await loop.drain()).toBe(true);
  });

  it('backs off while the database is unavailable and resumes by itself', async () => {
    const queue = new MemoryQueue();
    const id = queue.add('A', 'u1');
    queue.unavailable = 3;
    const { reconcile } = recordingPass();
    const { loop, stop, lines } = makeLoop(queue, reconcile, { pollMs: 40 });
    const running = loop.run();
    await until(() => queue.completed.includes(id), 3_000, 'the item after the outage');
    stop.abort();
    await running;
    await loop.drain();
    const [c1, c2, c3, c4] = queue.claims;
    expect([c1.got, c2.got, c3.got, c4.got]).toEqual([-1, -1, -1, 1]);
    // idleMs: 20–40, 40–80, 80–160 ms (base min(250, pollMs), doubling); timers may fire a ms early.
    expect(c2.at - c1.at).toBeGreaterThanOrEqual(19);
    expect(c3.at - c2.at).toBeGreaterThanOrEqual(39);
    expect(c4.at - c3.at).toBeGreaterThanOrEqual(79);
    const paused = lines.filter((l) => l.msg === 'database unavailable; reconciler paused').map((l) => l.level);
    expect(paused).toEqual([40, 20, 20]); // warn once, then debug
    expect(lines.find((l) => l.msg === 'database reachable again; reconciler resumed')).toMatchObject({ attempts: 3 });
  });

  it('heartbeats in-flight claims; on shutdown gives aborted items back, or leaves stuck ones to their leases', async () => {
    const queue = new MemoryQueue();
    const id = queue.add('A', 'u1');
    const { loop, stop, signal } = makeLoop(queue, (items) => new Promise<Settled[]>((resolve) => {
      signal.addEventListener('abort', () => resolve(items.map((i) => ({ item: i, error: new AbortedError() }))));
    }), { leaseMs: 300 });
    const running = loop.run();
    await until(() => loop.inFlight === 1, 1_000, 'the claim');
    await until(() => queue.heartbeats.length >= 2, 1_000, 'two heartbeats');
    expect(queue.heartbeats[0]).toEqual([id]);
    stop.abort();
    await running;
    expect(await loop.drain()).toBe(true);
    expect(queue.released).toEqual([id]);
    expect(queue.rows.get(id)).toMatchObject({ lockedBy: null, attempts: 0 });

    const stuck = new MemoryQueue();
    const stuckId = stuck.add('A', 'u2');
    const second = makeLoop(stuck, () => new Promise<Settled[]>(() => {}), { shutdownTimeoutMs: 100 });
    const run2 = second.loop.run();
    await until(() => second.loop.inFlight === 1, 1_000, 'the stuck claim');
    second.stop.abort();
    await run2;
    expect(await second.loop.drain()).toBe(false);
    expect(second.loop.inFlight).toBe(1);
    expect(stuck.rows.get(stuckId)).toMatchObject({ lockedBy: 'w1' });
  });
});
