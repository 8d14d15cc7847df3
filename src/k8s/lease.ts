// Leader election on a coordination.k8s.io/v1 Lease, mirroring client-go
// tools/leaderelection (leaderelection.go, resourcelock/leaselock.go):
// - acquire: every retryPeriod (with jitter), get the Lease; take it when it does not exist
//   (create), when its holder's lease expired, or when we already hold it — always with a
//   resourceVersion-guarded replace, so two candidates can never both win (409 for the loser);
// - expiry is judged by OUR clock: the time we last saw the record change plus its
//   leaseDurationSeconds (client-go's observedTime), never by comparing remote timestamps;
// - renew every retryPeriod; no successful renew within renewDeadline → leadership is lost
//   and the caller exits the process (client-go's OnStoppedLeading is klog.Fatal);
// - release on shutdown: holder emptied and leaseDurationSeconds 1 so a peer takes over at once.
// Leases are read and written through the custom-objects API: renewTime/acquireTime are
// MicroTime, which client-node 1.4's serializer writes with millisecond precision.
import type { CustomObjectsApi } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isConflict, isNotFound, microTime } from './client.js';

export interface LeaseTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

interface LeaseObject {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

export interface LeaderElectorOptions extends LeaseTimings {
  custom: CustomObjectsApi;
  namespace: string;
  name: string;
  identity: string;
  log: Logger;
}

const lease = (o: LeaderElectorOptions) => ({ group: 'coordination.k8s.io', version: 'v1', namespace: o.namespace, plural: 'leases' });
/**
 * Waits ms or until the signal aborts. The listener is removed when the timer fires: the
 * signal lives as long as the process and renewLoop sleeps every retryPeriod, so a listener
 * left behind per call grew without bound (Node's MaxListenersExceededWarning after 11).
 */
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
/** client-go's wait.Jitter(retryPeriod, 1.2). */
const jittered = (ms: number) => ms * (1 + Math.random() * 1.2);

export interface LeaderElector {
  /** Resolves once this process holds the Lease (or the signal aborted: false). */
  acquire(signal: AbortSignal): Promise<boolean>;
  /** Renews until renewing fails for renewDeadline (resolves 'lost') or the signal aborts ('stopped'). */
  renewLoop(signal: AbortSignal): Promise<'lost' | 'stopped'>;
  /** Gives the Lease up if we hold it (SIGTERM). */
  release(): Promise<void>;
  isLeader(): boolean;
}

export function makeLeaderElector(o: LeaderElectorOptions): LeaderElector {
  let observed: { key: string; at: number; durationMs: number } | undefined;
  let leader = false;
  let lastRv: string | undefined;
  const durationSeconds = Math.max(1, Math.ceil(o.leaseDurationMs / 1000));

  const record = (l: LeaseObject): void => {
    const key = `${l.spec.holderIdentity ?? ''}|${l.spec.renewTime ?? ''}|${l.metadata.resourceVersion ?? ''}`;
    if (observed?.key !== key) observed = { key, at: Date.now(), durationMs: (l.spec.leaseDurationSeconds ?? durationSeconds) * 1000 };
  };

  /** One attempt (client-go tryAcquireOrRenew); true when we hold the Lease afterwards. */
  async function tryAcquireOrRenew(): Promise<boolean> {
    const now = microTime();
    let current: LeaseObject;
    try {
      current = (await o.custom.getNamespacedCustomObject({ ...lease(o), name: o.name })) as LeaseObject;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const body: LeaseObject = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: o.name, namespace: o.namespace },
        spec: { holderIdentity: o.identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
      };
      try {
        const created = (await o.custom.createNamespacedCustomObject({ ...lease(o), body })) as LeaseObject;
        record(created);
        lastRv = created.metadata.resourceVersion;
        return true;
      } catch (e) {
        if (isConflict(e)) return false; // another candidate created it first
        throw e;
      }
    }
    record(current);
    const holder = current.spec.holderIdentity ?? '';
    const ours = holder === o.identity;
    const expired = !holder || Date.now() > observed!.at + observed!.durationMs;
    if (!ours && !expired) return false;
    const spec = {
      holderIdentity: o.identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime: ours ? (current.spec.acquireTime ?? now) : now,
      renewTime: now,
      leaseTransitions: (current.spec.leaseTransitions ?? 0) + (ours ? 0 : 1),
    };
    const body = { ...current, spec };
    try {
      // metadata.resourceVersion in the body: a replace of a version someone else changed is a 409.
      const updated = (await o.custom.replaceNamespacedCustomObject({ ...lease(o), name: o.name, body })) as LeaseObject;
      record(updated);
      lastRv = updated.metadata.resourceVersion;
      if (!ours) o.log.info({ lease: `${o.namespace}/${o.name}`, previous: holder || null, transitions: spec.leaseTransitions }, 'leader lease acquired');
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  async function attempt(): Promise<boolean> {
    try {
      return await tryAcquireOrRenew();
    } catch (err) {
      o.log.warn({ err }, 'leader election: error getting or updating the Lease');
      return false;
    }
  }

  return {
    isLeader: () => leader,
    async acquire(signal) {
      while (!signal.aborted) {
        if (await attempt()) {
          leader = true;
          return true;
        }
        await sleep(jittered(o.retryPeriodMs), signal);
      }
      return false;
    },
    async renewLoop(signal) {
      let lastRenew = Date.now();
      while (!signal.aborted) {
        await sleep(o.retryPeriodMs, signal);
        if (signal.aborted) break;
        if (await attempt()) lastRenew = Date.now();
        else if (Date.now() - lastRenew > o.renewDeadlineMs) {
          leader = false;
          return 'lost';
        }
      }
      return 'stopped';
    },
    async release() {
      if (!leader) return;
      leader = false;
      try {
        const current = (await o.custom.getNamespacedCustomObject({ ...lease(o), name: o.name })) as LeaseObject;
        if (current.spec.holderIdentity !== o.identity) return;
        const now = microTime();
        const body = { ...current, spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now } };
        await o.custom.replaceNamespacedCustomObject({ ...lease(o), name: o.name, body });
        o.log.info({ lease: `${o.namespace}/${o.name}`, resourceVersion: lastRv }, 'leader lease released');
      } catch (err) {
        o.log.warn({ err }, 'could not release the leader lease; it expires by itself');
      }
    },
  };
}
