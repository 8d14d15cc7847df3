// The reconcile loop: claim items (per-user items and organization passes have separate
// slots, so a long resync never delays a deprovisioning), run them, finish them by revision.
// Woken by NOTIFY, polling as a fallback; finishes in-flight work when the signal aborts.
import os from 'node:os';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { provisioningLatency, registerProcessMetrics, queueDepth, queueFailing, queueOldest, reconcileDuration, reconcileTotal } from '../metrics.js';
import { isDatabaseUnavailable } from '../store/errors.js';
import { reconnectDelayMs, type Listener } from '../store/listen.js';
import { makePool } from '../store/pool.js';
import type { ReconcilerStore } from '../store/reconcilerStore.js';
import type { WorkItem } from '../store/reconcileQueue.js';
import { kubernetesSecrets } from './kubernetesSecrets.js';
import { makeTargetResolver } from '../targets/index.js';
import { AbortedError, classifyError, type Result } from './errors.js';
import { listenForChanges } from './listener.js';
import { reconcileOrganizationItem, reconcileUserItems, type ReconcileDeps, type Settled } from './reconcile.js';

export interface ReconcilerSettings {
  concurrency: number;
  resyncConcurrency: number;
  applyConcurrency: number;
  pollMs: number;
  leaseMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  failingAfter: number;
  pageSize: number;
  eventsRetentionDays: number;
  /** Audit entries older than this are deleted (AUDIT_RETENTION_DAYS). */
  auditRetentionDays: number;
  secretsDir: string;
  /** After the signal aborts, how long in-flight items may take before the reconciler stops anyway. */
  shutdownTimeoutMs: number;
}

/**
 * Most per-user items one member transaction takes on. Idle, a batch is one item; under a
 * deprovisioning wave a batch costs about as many round trips as one item did, which is what
 * lets the reconciler keep up with 400 items/s beside the ingress on 2 cores
 * (docs/benchmarks.md, scenario 6).
 */
const MAX_BATCH = 16;

export function settingsFromConfig(c: Config): ReconcilerSettings {
  return {
    concurrency: c.RECONCILER_CONCURRENCY,
    resyncConcurrency: c.RECONCILER_RESYNC_CONCURRENCY,
    applyConcurrency: c.RECONCILER_APPLY_CONCURRENCY,
    pollMs: c.RECONCILER_POLL_MS,
    leaseMs: c.RECONCILER_LEASE_MS,
    retryBaseMs: c.RECONCILER_RETRY_BASE_MS,
    retryMaxMs: c.RECONCILER_RETRY_MAX_MS,
    failingAfter: c.RECONCILER_FAILING_AFTER,
    pageSize: c.RECONCILER_PAGE_SIZE,
    eventsRetentionDays: c.RECONCILER_EVENTS_RETENTION_DAYS,
    auditRetentionDays: c.AUDIT_RETENTION_DAYS,
    secretsDir: c.RECONCILER_SECRETS_DIR,
    shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT_MS,
  };
}

export interface ReconcilerDeps {
  /**
   * Opens the reconciler's store on connections of its own, `maxConnections` of them
   * (src/store/reconcilerStore.ts openReconcilerStore); the reconciler ends it when it stops.
   */
  openStore: (maxConnections: number) => ReconcilerStore;
  /** The LISTEN connection's and the target connectors' database. */
  databaseUrl: string;
  log: Logger;
  signal: AbortSignal;
  /** The parsed configuration (main.ts is its only reader); `settings` override its fields. */
  config: Config;
  workerId?: string;
  settings?: Partial<ReconcilerSettings>;
  /** Process what is due now (queued items and due resyncs), then return. */
  once?: boolean;
  /** The process's shared LISTEN connection (`scimsync start`); without it the reconciler opens its own. */
  listener?: Listener;
}

export const backoffMs = (attempts: number, base: number, max: number): number => {
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempts - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2); // "equal jitter": never less than half
};

export async function startReconciler(deps: ReconcilerDeps): Promise<void> {
  const config = deps.config;
  const s: ReconcilerSettings = { ...settingsFromConfig(config), ...deps.settings };
  const workerId = deps.workerId ?? config.RECONCILER_WORKER_ID ?? `${os.hostname()}:${process.pid}`;
  const log = deps.log.child({ component: 'reconciler', worker: workerId });
  // Own connections: every in-flight member operation holds one (its advisory lock) while it
  // calls the target, so sharing the ingress's pool could starve SCIM requests.
  const store = deps.openStore(s.concurrency + s.resyncConcurrency * s.applyConcurrency + 4);
  // The reference-table target gets a pool of its own, so a member lock never waits on a
  // connection that only a member-lock holder could free.
  const targetPool = makePool(deps.databaseUrl, 8);
  // TARGET_SECRETS=kubernetes: secret references are read (and watched) through the API.
  const secrets = config.TARGET_SECRETS === 'kubernetes' ? await kubernetesSecrets(targetPool, log, config.KUBECONFIG) : undefined;
  const targets = makeTargetResolver({ pool: targetPool, secretsDir: s.secretsDir, readSecret: secrets?.read });
  registerProcessMetrics('reconciler');
  // Every kind × result series exists from start (at 0): an error rate reads 0, not "no data",
  // and the first error shows as an increase. Likewise the histograms: a series born at its
  // first observation loses that observation to rate().
  for (const kind of ['user', 'organization']) {
    reconcileDuration.zero({ kind });
    for (const result of ['success', 'error', 'terminal', 'requeue', 'aborted']) reconcileTotal.inc({ kind, result }, 0);
  }
  for (const operation of ['grant', 'update', 'revoke']) provisioningLatency.zero({ operation });
  const stopping = new AbortController();
  deps.signal.addEventListener('abort', () => stopping.abort(), { once: true });
  const rdeps: ReconcileDeps = { store, targets, workerId, log, pageSize: s.pageSize, applyConcurrency: s.applyConcurrency, signal: stopping.signal };

  let wake: () => void = () => {};
  let woken = false;
  const notify = () => {
    woken = true;
    wake();
  };
  const listening = deps.once ? Promise.resolve() : listenForChanges(deps.databaseUrl, log, stopping.signal, notify, deps.listener);
  const inflight = new Map<string, { item: WorkItem; done: Promise<void> }>();
  let users = 0;
  let orgs = 0;

  /**
   * settleItem that never rejects: if the database fails while an item is finished (it went
   * away mid-pass), the item keeps its claim and is claimed again when the lease expires —
   * every target operation is idempotent, so running it again is safe and nothing is lost.
   */
  async function settle(item: WorkItem, outcome: { result: Result } | { error: unknown }): Promise<string> {
    try {
      return await settleItem(item, outcome);
    } catch (err) {
      log[isDatabaseUnavailable(err) ? 'warn' : 'error']({ err, organizationId: item.organizationId, userId: item.userId, leaseMs: s.leaseMs }, 'could not finish a reconcile item; it runs again once its lease expires');
      return 'error';
    }
  }

  /** Finishes one item by its outcome: complete, requeue, retry with backoff, or release. */
  async function settleItem(item: WorkItem, outcome: { result: Result } | { error: unknown }): Promise<string> {
    if ('result' in outcome) {
      const r = outcome.result;
      if (r.requeueAfter !== undefined) {
        await store.retryItem(item, workerId, r.requeueAfter, null);
        return 'requeue';
      }
      if (!r.completed) await store.completeItem(item, workerId);
      return 'success';
    }
    const err = outcome.error;
    if (err instanceof AbortedError) {
      await store.releaseItem(item, workerId).catch(() => {});
      return 'aborted';
    }
    const verdict = classifyError(err);
    if (verdict.kind === 'terminal') {
      log.error({ err, organizationId: item.organizationId, userId: item.userId }, 'reconcile item failed permanently; not retried until the next change or resync');
      // A per-user pass the target rejected is recorded for `scimsync plan` and the status
      // (cleared by the next successful full pass), as a failing organization pass is.
      await store.recordTerminalError(item.organizationId, item.userId ? 'user' : 'organization', String((err as Error).message)).catch(() => {});
      await store.completeItem(item, workerId).catch(() => {});
      return 'terminal';
    }
    if (verdict.kind === 'requeueAfter') {
      await store.retryItem(item, workerId, verdict.delayMs, String((err as Error).message)).catch(() => {});
      return 'requeue';
    }
    const delay = backoffMs(item.attempts, s.retryBaseMs, s.retryMaxMs);
    const level = item.attempts >= s.failingAfter ? 'error' : 'warn';
    log[level]({ err, organizationId: item.organizationId, userId: item.userId, attempts: item.attempts, retryInMs: delay }, 'reconcile failed; will retry');
    await store.retryItem(item, workerId, delay, String((err as Error)?.message ?? err)).catch(() => {});
    return 'error';
  }

  /** Runs one organization item, or a batch of user items of one organization. */
  async function run(items: WorkItem[]): Promise<void> {
    const kind = items[0].userId ? 'user' : 'organization';
    const end = reconcileDuration.startTimer({ kind });
    let settled: Settled[];
    try {
      settled = kind === 'user' ? await reconcileUserItems(rdeps, items) : [{ item: items[0], result: await reconcileOrganizationItem(rdeps, items[0]) }];
    } catch (error) {
      settled = items.map((item) => ({ item, error }));
    }
    const elapsed = end();
    for (const x of settled) {
      const result = await settle(x.item, 'result' in x && x.error === undefined ? { result: x.result } : { error: x.error });
      if (x !== settled[0]) reconcileDuration.observe({ kind }, elapsed);
      reconcileTotal.inc({ kind, result });
    }
  }

  /**
   * Splits claimed user items into per-organization batches spread over the free slots (a slot
   * runs its batches one after another, so no more member transactions than slots are open).
   */
  function lanes(items: WorkItem[], slots: number): WorkItem[][][] {
    const byOrg = new Map<string, WorkItem[]>();
    for (const item of items) byOrg.set(item.organizationId, [...(byOrg.get(item.organizationId) ?? []), item]);
    const size = Math.min(MAX_BATCH, Math.max(1, Math.ceil(items.length / Math.max(1, slots))));
    const batches = [...byOrg.values()].flatMap((xs) => Array.from({ length: Math.ceil(xs.length / size) }, (_, i) => xs.slice(i * size, (i + 1) * size)));
    const out: WorkItem[][][] = Array.from({ length: Math.min(Math.max(1, slots), batches.length) }, () => []);
    batches.forEach((b, i) => out[i % out.length].push(b));
    return out;
  }

  function start(lane: WorkItem[][]) {
    const isUser = lane[0][0].userId !== null;
    if (isUser) users++;
    else orgs++;
    const done = (async () => {
      for (const items of lane) await run(items);
    })()
      // run() settles every item itself; this owns anything it did not foresee.
      .catch((err: unknown) => log.error({ err }, 'reconcile lane failed'))
      .finally(() => {
      if (isUser) users--;
      else orgs--;
      for (const item of lane.flat()) inflight.delete(item.id);
      // A freed slot matters only if the last claim may have left due items behind (or to
      // --once); new items announce themselves with NOTIFY. Unconditional, every finished
      // batch cost a claim, two thirds of them empty under scenario 6's load.
      if ((isUser ? backlog.users : backlog.organizations) || deps.once) notify();
    });
    for (const item of lane.flat()) inflight.set(item.id, { item, done });
  }

  const beat = setInterval(() => {
    store.heartbeat(workerId, [...inflight.keys()]).catch((err) => log[isDatabaseUnavailable(err) ? 'debug' : 'warn']({ err }, 'heartbeat failed'));
  }, Math.max(100, Math.floor(s.leaseMs / 3)));
  /** Consecutive loop iterations that found the database unavailable (0: it is reachable). */
  let outage = 0;
  let batch = 1;
  let backlog = { users: false, organizations: false };
  let lastHousekeeping = 0;
  let lastPrune = 0;

  try {
    while (!stopping.signal.aborted) {
      woken = false;
      let claimed = 0;
      try {
        if (Date.now() - lastHousekeeping >= s.pollMs || deps.once) {
          lastHousekeeping = Date.now();
          await store.scheduleResyncs();
          const st = await store.queueStats(s.failingAfter);
          queueDepth.set(st.depth);
          queueOldest.set(st.oldestSeconds);
          queueFailing.set(st.failing);
          if (Date.now() - lastPrune > 600_000) {
            lastPrune = Date.now();
            await store.pruneEvents(s.eventsRetentionDays);
            await store.pruneAudit(s.auditRetentionDays);
          }
        }
        const free = s.concurrency - users;
        const limits = { users: free * batch, organizations: s.resyncConcurrency - orgs };
        const got = await store.claimItems(workerId, limits, s.leaseMs);
        claimed = got.length;
        const orgItems = got.filter((i) => i.userId === null);
        const userItems = got.filter((i) => i.userId !== null);
        // A full claim (or none, for want of a slot) may have left due items behind.
        backlog = { users: userItems.length >= limits.users, organizations: orgItems.length >= limits.organizations };
        for (const item of orgItems) start([[item]]);
        // Batch only while there is a backlog (a claim comes back full): otherwise one item per
        // slot, and replicas share the work instead of one claiming it all.
        if (free > 0) batch = userItems.length >= limits.users ? Math.min(MAX_BATCH, batch * 2) : userItems.length <= free ? 1 : batch;
        if (userItems.length) for (const lane of lanes(userItems, s.concurrency - users)) start(lane);
        if (outage) log.info({ attempts: outage }, 'database reachable again; reconciler resumed');
        outage = 0;
      } catch (err) {
        // The database is down (restart, failover): pause with capped, jittered backoff and
        // resume by itself; a reconnecting LISTEN connection wakes the loop at once.
        if (isDatabaseUnavailable(err)) {
          outage++;
          log[outage === 1 ? 'warn' : 'debug']({ err: (err as Error).message, attempt: outage }, 'database unavailable; reconciler paused');
        } else log.error({ err }, 'claiming reconcile items failed');
      }
      if (deps.once && claimed === 0 && inflight.size === 0) break;
      if ((backlog.users && users < s.concurrency) || (backlog.organizations && orgs < s.resyncConcurrency)) continue;
      if (woken) continue;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          stopping.signal.removeEventListener('abort', done);
          resolve();
        };
        const t = setTimeout(done, outage ? reconnectDelayMs(outage, Math.min(250, s.pollMs), Math.max(s.pollMs, 5_000)) : s.pollMs);
        wake = done;
        stopping.signal.addEventListener('abort', done, { once: true });
      });
      wake = () => {};
    }
  } finally {
    if (!stopping.signal.aborted) stopping.abort();
    // Target calls see the abort (their AbortSignal) and stop at once; a pass stuck elsewhere
    // (a database that does not answer) must not hold shutdown past its timeout either.
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      Promise.allSettled([...inflight.values()].map((f) => f.done)).then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), s.shutdownTimeoutMs))),
    ]);
    clearTimeout(timer);
    clearInterval(beat);
    await listening;
    const ended = Promise.allSettled([targets.close(), secrets?.close(), targetPool.end(), store.end()]);
    // store.end() waits for checked-out clients: only wait when nothing is left in flight. The
    // unfinished items keep their claims and are claimed again once their leases expire.
    if (drained) await ended;
    else log.warn({ inflight: inflight.size, timeoutMs: s.shutdownTimeoutMs }, 'shutdown timeout: leaving unfinished reconcile items to their leases');
  }
}
