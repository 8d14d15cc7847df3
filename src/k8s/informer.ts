// A supervised client-node informer (ListWatch). client-node 1.4's informer re-lists on 410
// Gone but stops for good on any other error (it emits `error` and does not restart), has no
// resync period and no backoff, re-watches at once whenever the server closes a watch, and
// its own stop() emits an AbortError (kubernetes-client/javascript #958, #364, #494, #1933).
// The supervisor here adds what controller-runtime's reflector has:
// - restart after an error with capped, jittered exponential backoff (250 ms → 30 s);
// - the AbortError caused by our own stop()/restart is not an error;
// - a watchdog: a watch that delivered nothing for watchdogMs is re-established (a stalled
//   TCP connection otherwise looks exactly like a quiet cluster);
// - pacing: watches the server ends over and over (more than 5 in a second) back off too;
// - a periodic resync: every cached object is handed to onEvent again, so a missed event
//   is repaired by the level-based reconcile.
// synced() is client-go's HasSynced: true once the first list succeeded.
import { ListWatch, type KubernetesListObject, type KubernetesObject, type Watch } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { watchRestartsTotal } from '../metrics.js';

export type InformerEvent = 'add' | 'update' | 'delete' | 'resync';

export interface InformerOptions<T extends KubernetesObject> {
  /** Metric label and log name (scimconfigs, secrets). */
  resource: string;
  /** The collection's URL path (e.g. /apis/scimsync.io/v1alpha1/namespaces/x/scimconfigs). */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  watch: Watch;
  labelSelector?: string;
  fieldSelector?: string;
  onEvent: (event: InformerEvent, obj: T) => void;
  log: Logger;
  watchdogMs: number;
  resyncMs: number;
}

export interface SupervisedInformer<T extends KubernetesObject> {
  synced(): boolean;
  list(): readonly T[];
  get(name: string, namespace?: string): T | undefined;
  stop(): Promise<void>;
}

const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 30_000;

/** Full-jitter exponential delay for the n-th consecutive failure (n ≥ 0). */
export function restartDelay(n: number, random: () => number = Math.random): number {
  const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** n);
  return Math.round(cap / 2 + (random() * cap) / 2);
}

const isAbort = (err: unknown) => {
  const e = err as { name?: string; type?: string } | undefined;
  return e?.name === 'AbortError' || e?.type === 'aborted';
};

export function startInformer<T extends KubernetesObject>(o: InformerOptions<T>): SupervisedInformer<T> {
  const lw = new ListWatch<T>(o.path, o.watch, o.list, false, o.labelSelector, o.fieldSelector);
  watchRestartsTotal.inc({ resource: o.resource }, 0); // the series exists before the first restart
  const log = o.log.child({ informer: o.resource });
  let stopped = false;
  let hasSynced = false;
  let failures = 0;
  let lastActivity = Date.now();
  let restartTimer: NodeJS.Timeout | undefined;
  let erredDuringStart = false;
  const connects: number[] = [];

  const touch = () => (lastActivity = Date.now());
  const deliver = (event: InformerEvent) => (obj: T) => {
    touch();
    failures = 0;
    o.onEvent(event, obj);
  };
  lw.on('add', deliver('add'));
  lw.on('update', deliver('update'));
  lw.on('delete', deliver('delete'));

  const start = async () => {
    restartTimer = undefined;
    if (stopped) return;
    erredDuringStart = false;
    touch();
    await lw.start();
    if (!erredDuringStart && !stopped && lw.latestResourceVersion() !== '') {
      failures = 0;
      if (!hasSynced) log.info({ objects: lw.list().length }, 'informer synced');
      hasSynced = true;
    }
  };

  const scheduleRestart = (why: string, err?: unknown) => {
    if (stopped || restartTimer) return;
    const delay = restartDelay(failures++);
    watchRestartsTotal.inc({ resource: o.resource });
    log.warn({ err, delay, failures }, `watch ${why}; restarting`);
    restartTimer = setTimeout(() => void start().catch((e: unknown) => scheduleRestart('failed to start', e)), delay);
  };

  lw.on('error', (err?: unknown) => {
    erredDuringStart = true;
    if (stopped || isAbort(err)) return; // our own stop() or watchdog restart
    scheduleRestart('failed', err);
  });
  lw.on('connect', () => {
    touch();
    const now = Date.now();
    connects.push(now);
    while (connects.length && connects[0] < now - 1000) connects.shift();
    if (connects.length > 5) {
      // The server ends every watch at once: ListWatch would spin re-watching without a pause.
      connects.length = 0;
      void lw.stop();
      scheduleRestart('ended repeatedly by the server');
    }
  });

  const watchdog = setInterval(() => {
    if (stopped || restartTimer || Date.now() - lastActivity < o.watchdogMs) return;
    log.info({ idleMs: Date.now() - lastActivity }, 'watch delivered nothing for a while; re-establishing it');
    touch();
    void lw.stop().then(() => start().catch((e: unknown) => scheduleRestart('failed to start', e)));
  }, Math.max(50, Math.min(o.watchdogMs / 4, 5000)));
  watchdog.unref();

  const resync = setInterval(() => {
    if (!stopped && hasSynced) for (const obj of lw.list()) o.onEvent('resync', obj);
  }, o.resyncMs);
  resync.unref();

  void start().catch((e: unknown) => scheduleRestart('failed to start', e));

  return {
    synced: () => hasSynced,
    list: () => lw.list(),
    get: (name, namespace) => lw.get(name, namespace),
    async stop() {
      stopped = true;
      clearInterval(watchdog);
      clearInterval(resync);
      if (restartTimer) clearTimeout(restartTimer);
      await lw.stop();
    },
  };
}
