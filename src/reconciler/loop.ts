// The reconcile loop: claim items (per-user items and organization passes have separate
// slots, so a long resync never delays a deprovisioning), run them, finish them by revision.
// Woken by NOTIFY (notify()), polling as a fallback. Its decisions — how many to claim, how to
// batch them, when to claim again or sleep, how each item ends — are the pure functions below
// and ReconcileLoop's; every statement goes through `store` (a part of ReconcilerStore), so
// test/reconciler.loop.test.ts drives the loop against an in-memory queue.
import type { Logger } from 'pino';
import { queueDepth, queueFailing, queueOldest, reconcileDuration, reconcileTotal } from '../metrics.js';
import { isDatabaseUnavailable } from '../store/errors.js';
import { reconnectDelayMs } from '../store/listen.js';
import type { ReconcilerStatements } from '../store/reconcilerStore.js';
import type { WorkItem } from '../store/reconcileQueue.js';
import { settlementOf, type Settled, type Settlement } from './settlement.js';

/** The statements the loop runs: the work queue's, housekeeping's and a terminal failure's record. */
export type QueueStore = Pick<ReconcilerStatements,
  'claimItems' | 'completeItem' | 'retryItem' | 'releaseItem' | 'heartbeat' | 'scheduleResyncs' | 'queueStats' | 'pruneEvents' | 'pruneAudit' | 'recordTerminalError'>;

export interface LoopSettings {
  /** Slots for per-user batches. */
  concurrency: number;
  /** Slots for organization passes. */
  resyncConcurrency: number;
  /** Idle poll (ms), also the housekeeping period (resync scheduling, queue gauges). */
  pollMs: number;
  /** A claim's lease (ms); heartbeats renew in-flight claims every third of it. */
  leaseMs: number;
  /** Retry backoff of a failed item: base doubling per attempt, capped (ms). */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Attempts from which a failing item logs at error and counts as failing. */
  failingAfter: number;
  eventsRetentionDays: number;
  auditRetentionDays: number;
  /** After the signal aborts, how long in-flight items may take before the loop stops anyway (ms). */
  shutdownTimeoutMs: number;
}

/**
 * Most per-user items one member transaction takes on. Idle, a batch is one item; under a
 * deprovisioning wave a batch costs about as many round trips as one item did, which is what
 * lets the reconciler keep up with 400 items/s beside the ingress on 2 cores
 * (docs/benchmarks.md, scenario 6).
 */
export const MAX_BATCH = 16;

/** How many items to claim: `batch` per free user slot, one per free organization slot. */
export function claimLimits(s: Pick<LoopSettings, 'concurrency' | 'resyncConcurrency'>, running: { users: number; organizations: number }, batch: number): { users: number; organizations: number } {
  return { users: (s.concurrency - running.users) * batch, organizations: s.resyncConcurrency - running.organizations };
}

/**
 * The batch size after a claim: batch only while there is a backlog (a claim comes back full,
 * then the size doubles up to MAX_BATCH); a claim that fits one item per free slot resets it
 * to 1, so replicas share the work instead of one claiming it all. Unchanged without a free slot.
 */
export function nextBatch(batch: number, freeSlots: number, claimedUsers: number, userLimit: number): number {
  if (freeSlots <= 0) return batch;
  if (claimedUsers >= userLimit) return Math.min(MAX_BATCH, batch * 2);
  return claimedUsers <= freeSlots ? 1 : batch;
}

/**
 * Splits claimed user items into per-organization batches spread over the free slots (a slot
 * runs its batches one after another, so no more member transactions than slots are open).
 * Batches hold about items/slots items, at most MAX_BATCH, never two organizations.
 */
export function lanes(items: WorkItem[], slots: number): WorkItem[][][] {
  const byOrg = new Map<string, WorkItem[]>();
  for (const item of items) byOrg.set(item.organizationId, [...(byOrg.get(item.organizationId) ?? []), item]);
  const size = Math.min(MAX_BATCH, Math.max(1, Math.ceil(items.length / Math.max(1, slots))));
  const batches = [...byOrg.values()].flatMap((xs) => Array.from({ length: Math.ceil(xs.length / size) }, (_, i) => xs.slice(i * size, (i + 1) * size)));
  const out: WorkItem[][][] = Array.from({ length: Math.min(Math.max(1, slots), batches.length) }, () => []);
  batches.forEach((b, i) => out[i % out.length].push(b));
  return out;
}

/** The wait before claiming again when idle: the poll, or while the database is down a capped, jittered backoff. */
export function idleMs(outage: number, pollMs: number): number {
  return outage ? reconnectDelayMs(outage, Math.min(250, pollMs), Math.max(pollMs, 5_000)) : pollMs;
}

export interface LoopDeps {
  store: QueueStore;
  /** Runs one organization item, or a batch of user items of one organization. */
  reconcile: (items: WorkItem[]) => Promise<Settled[]>;
  settings: LoopSettings;
  workerId: string;
  log: Logger;
  /** Stops claiming when it aborts (the passes see the same signal). */
  signal: AbortSignal;
  /** Process what is due now, then return. */
  once?: boolean;
}

const ignore = () => {};

export class ReconcileLoop {
  private readonly inflight = new Map<string, { item: WorkItem; done: Promise<void> }>();
  private running = { users: 0, organizations: 0 };
  private batch = 1;
  /** Whether the last claim may have left due items behind (it came back full). */
  private backlog = { users: false, organizations: false };
  /** Consecutive claims that found the database unavailable (0: it is reachable). */
  private outage = 0;
  private woken = false;
  private wake: () => void = ignore;
  private lastHousekeeping = 0;
  private lastPrune = 0;
  private beat: NodeJS.Timeout | undefined;

  constructor(private readonly deps: LoopDeps) {}

  /** A change was committed (NOTIFY) or the listener (re)connected: claim now, not at the next poll. */
  readonly notify = (): void => {
    this.woken = true;
    this.wake();
  };

  /** Items claimed and not yet settled. */
  get inFlight(): number {
    return this.inflight.size;
  }

  /** Claims and runs items until the signal aborts (with `once`: until nothing is due or running). */
  async run(): Promise<void> {
    const { settings: s, signal } = this.deps;
    this.beat ??= setInterval(() => this.heartbeat(), Math.max(100, Math.floor(s.leaseMs / 3)));
    while (!signal.aborted) {
      this.woken = false;
      const claimed = await this.claim();
      if (this.deps.once && claimed === 0 && this.inflight.size === 0) break;
      if ((this.backlog.users && this.running.users < s.concurrency) || (this.backlog.organizations && this.running.organizations < s.resyncConcurrency)) continue;
      if (this.woken) continue;
      await this.sleep(idleMs(this.outage, s.pollMs));
    }
  }

  /**
   * Waits for in-flight items, at most shutdownTimeoutMs, then stops the heartbeats. Returns
   * false when some were still running: they keep their claims until their leases expire.
   */
  async drain(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      Promise.allSettled([...this.inflight.values()].map((f) => f.done)).then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), this.deps.settings.shutdownTimeoutMs))),
    ]);
    clearTimeout(timer);
    clearInterval(this.beat);
    return drained;
  }

  private heartbeat(): void {
    this.deps.store.heartbeat(this.deps.workerId, [...this.inflight.keys()])
      .catch((err: unknown) => this.deps.log[isDatabaseUnavailable(err) ? 'debug' : 'warn']({ err }, 'heartbeat failed'));
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.deps.signal;
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        this.wake = ignore;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Housekeeping when due, then one claim, its items started; returns how many were claimed. */
  private async claim(): Promise<number> {
    const { store, settings: s, workerId, log } = this.deps;
    try {
      await this.housekeep();
      const free = s.concurrency - this.running.users;
      const limits = claimLimits(s, this.running, this.batch);
      const got = await store.claimItems(workerId, limits, s.leaseMs);
      const orgItems = got.filter((i) => i.userId === null);
      const userItems = got.filter((i) => i.userId !== null);
      // A full claim (or none, for want of a slot) may have left due items behind.
      this.backlog = { users: userItems.length >= limits.users, organizations: orgItems.length >= limits.organizations };
      for (const item of orgItems) this.start([[item]]);
      this.batch = nextBatch(this.batch, free, userItems.length, limits.users);
      if (userItems.length) for (const lane of lanes(userItems, s.concurrency - this.running.users)) this.start(lane);
      if (this.outage) log.info({ attempts: this.outage }, 'database reachable again; reconciler resumed');
      this.outage = 0;
      return got.length;
    } catch (err) {
      // The database is down (restart, failover): pause with capped, jittered backoff and
      // resume by itself; a reconnecting LISTEN connection wakes the loop at once.
      if (isDatabaseUnavailable(err)) {
        this.outage++;
        log[this.outage === 1 ? 'warn' : 'debug']({ err: (err as Error).message, attempt: this.outage }, 'database unavailable; reconciler paused');
      } else log.error({ err }, 'claiming reconcile items failed');
      return 0;
    }
  }

  /** Every pollMs (and each --once round): due resyncs, the queue gauges; every 10 minutes old events and audit entries. */
  private async housekeep(): Promise<void> {
    const { store, settings: s } = this.deps;
    if (Date.now() - this.lastHousekeeping < s.pollMs && !this.deps.once) return;
    this.lastHousekeeping = Date.now();
    await store.scheduleResyncs();
    const st = await store.queueStats(s.failingAfter);
    queueDepth.set(st.depth);
    queueOldest.set(st.oldestSeconds);
    queueFailing.set(st.failing);
    if (Date.now() - this.lastPrune > 600_000) {
      this.lastPrune = Date.now();
      await store.pruneEvents(s.eventsRetentionDays);
      await store.pruneAudit(s.auditRetentionDays);
    }
  }

  /** Runs a lane (batches one after another) in a slot; a finished lane frees its slot. */
  private start(lane: WorkItem[][]): void {
    const kind = lane[0][0].userId !== null ? 'users' : 'organizations';
    this.running[kind]++;
    const done = (async () => {
      for (const items of lane) await this.runBatch(items);
    })()
      // runBatch() settles every item itself; this owns anything it did not foresee.
      .catch((err: unknown) => this.deps.log.error({ err }, 'reconcile lane failed'))
      .finally(() => {
        this.running[kind]--;
        for (const item of lane.flat()) this.inflight.delete(item.id);
        // A freed slot matters only if the last claim may have left due items behind (or to
        // --once); new items announce themselves with NOTIFY. Unconditional, every finished
        // batch cost a claim, two thirds of them empty under scenario 6's load.
        if (this.backlog[kind] || this.deps.once) this.notify();
      });
    for (const item of lane.flat()) this.inflight.set(item.id, { item, done });
  }

  /** Runs one organization item, or a batch of user items of one organization, and settles each item. */
  private async runBatch(items: WorkItem[]): Promise<void> {
    const kind = items[0].userId ? 'user' : 'organization';
    const end = reconcileDuration.startTimer({ kind });
    let settled: Settled[];
    try {
      settled = await this.deps.reconcile(items);
    } catch (error) {
      settled = items.map((item) => ({ item, error }));
    }
    const elapsed = end();
    for (const x of settled) {
      const outcome = 'result' in x && x.error === undefined ? { result: x.result } : { error: x.error };
      const result = await this.settle(x.item, settlementOf(x.item, outcome, this.deps.settings));
      if (x !== settled[0]) reconcileDuration.observe({ kind }, elapsed);
      reconcileTotal.inc({ kind, result });
    }
  }

  /**
   * Writes an item's settlement; never rejects: if the database fails meanwhile (it went away
   * mid-pass), the item keeps its claim and is claimed again when the lease expires — every
   * target operation is idempotent, so running it again is safe and nothing is lost.
   */
  private async settle(item: WorkItem, st: Settlement): Promise<Settlement['result']> {
    const { store, workerId, log, settings: s } = this.deps;
    const at = { organizationId: item.organizationId, userId: item.userId };
    try {
      if (st.result === 'success') {
        if (st.complete) await store.completeItem(item, workerId);
      } else if (st.result === 'requeue') {
        const retry = store.retryItem(item, workerId, st.retryInMs, st.error);
        await (st.bestEffort ? retry.catch(ignore) : retry);
      } else if (st.result === 'aborted') {
        await store.releaseItem(item, workerId).catch(ignore);
      } else if (st.result === 'terminal') {
        log.error({ err: st.cause, ...at }, 'reconcile item failed permanently; not retried until the next change or resync');
        // Recorded for `scimsync plan` and the status (cleared by the next successful full pass).
        await store.recordTerminalError(item.organizationId, item.userId ? 'user' : 'organization', st.error).catch(ignore);
        await store.completeItem(item, workerId).catch(ignore);
      } else {
        const level = item.attempts >= s.failingAfter ? 'error' : 'warn';
        log[level]({ err: st.cause, ...at, attempts: item.attempts, retryInMs: st.retryInMs }, 'reconcile failed; will retry');
        await store.retryItem(item, workerId, st.retryInMs, st.error).catch(ignore);
      }
      return st.result;
    } catch (err) {
      log[isDatabaseUnavailable(err) ? 'warn' : 'error']({ err, ...at, leaseMs: s.leaseMs }, 'could not finish a reconcile item; it runs again once its lease expires');
      return 'error';
    }
  }
}
