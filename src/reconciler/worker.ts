// The reconciler as a runnable part: settings from the configuration, its own connections
// (the store), target connectors and metrics, the LISTEN wake-up, then the reconcile loop
// (loop.ts) until the signal aborts; finishes in-flight work before it returns.
import { setMaxListeners } from 'node:events';
import os from 'node:os';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { provisioningLatency, registerProcessMetrics, reconcileDuration, reconcileTotal } from '../metrics.js';
import type { Listener } from '../store/listen.js';
import { makePool } from '../store/pool.js';
import type { ReconcilerStore } from '../store/reconcilerStore.js';
import { kubernetesSecrets } from './kubernetesSecrets.js';
import { makeTargetResolver } from '../targets/index.js';
import { listenForChanges } from './listener.js';
import { ReconcileLoop, type LoopSettings } from './loop.js';
import { reconcileOrganizationItem, reconcileUserItems, type ReconcileDeps } from './reconcile.js';

export interface ReconcilerSettings extends LoopSettings {
  /** Concurrent target operations of one organization pass. */
  applyConcurrency: number;
  /** Keyset page of a full pass's desired-state stream. */
  pageSize: number;
  secretsDir: string;
}

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
  // Every in-flight target call listens on it for shutdown (src/targets/http/httpTarget.ts):
  // up to concurrency × batch at once, more than the default of 10 that warns of a leak.
  setMaxListeners(0, stopping.signal);
  deps.signal.addEventListener('abort', () => stopping.abort(), { once: true });
  const rdeps: ReconcileDeps = { store, targets, workerId, log, pageSize: s.pageSize, applyConcurrency: s.applyConcurrency, signal: stopping.signal };
  const loop = new ReconcileLoop({
    store,
    reconcile: async (items) => (items[0].userId ? reconcileUserItems(rdeps, items) : [{ item: items[0], result: await reconcileOrganizationItem(rdeps, items[0]) }]),
    settings: s,
    workerId,
    log,
    signal: stopping.signal,
    once: deps.once,
  });
  const listening = deps.once ? Promise.resolve() : listenForChanges(deps.databaseUrl, log, stopping.signal, loop.notify, deps.listener);
  try {
    await loop.run();
  } finally {
    if (!stopping.signal.aborted) stopping.abort();
    // Target calls see the abort (their AbortSignal) and stop at once; a pass stuck elsewhere
    // (a database that does not answer) must not hold shutdown past its timeout either.
    const drained = await loop.drain();
    await listening;
    const ended = Promise.allSettled([targets.close(), secrets?.close(), targetPool.end(), store.end()]);
    // store.end() waits for checked-out clients: only wait when nothing is left in flight. The
    // unfinished items keep their claims and are claimed again once their leases expire.
    if (drained) await ended;
    else log.warn({ inflight: loop.inFlight, timeoutMs: s.shutdownTimeoutMs }, 'shutdown timeout: leaving unfinished reconcile items to their leases');
  }
}
