// `scimsync operator`: informers on every replica (so a new leader starts warm), reconciles
// only on the leader (coordination.k8s.io Lease). start(signal) → done: 'stopped' after the
// signal (work drained, Lease released) or 'lost' when the Lease could not be renewed within
// the renew deadline — the caller then exits the process, as client-go's controllers do.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { KubernetesListObject, KubernetesObject, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { operatorLeader, operatorQueueDepth, operatorReconcileDuration, operatorReconcileTotal } from '../metrics.js';
import type { Pool } from '../store/pool.js';
import { apiMessage, GROUP, makeKubeClients, PLURAL, VERSION, type KubeClients } from './client.js';
import { makeEventRecorder } from './events.js';
import { startInformer, type SupervisedInformer } from './informer.js';
import { makeLeaderElector, type LeaseTimings } from './lease.js';
import type { FinalizeDeps } from './finalize.js';
import { reconcileScimConfig } from './reconcile.js';
import { makeKubernetesSecretReader } from './secretReader.js';
import { keyOf, MANAGED_BY_SELECTOR } from './scimConfigObject.js';
import { makeWorkQueue, runWorkers } from './workQueue.js';

export interface OperatorOptions extends LeaseTimings {
  pool: Pool;
  log: Logger;
  endpointFor: (organization: string) => string;
  /** Namespaces to watch; all when undefined or empty. */
  watchNamespaces?: string[];
  kubeconfig?: string;
  /** Lease holder identity (POD_NAME); host_random when unset. */
  identity?: string;
  leaseNamespace: string;
  leaseName: string;
  resyncMs: number;
  watchdogMs: number;
  statusRefreshMs: number;
  secretsDir: string;
  targetSecrets: 'files' | 'kubernetes';
  /** Reconciles running at once (controller-runtime MaxConcurrentReconciles). */
  workers?: number;
}

export interface RunningOperator {
  /** Informers have listed once (readiness; independent of leadership). */
  ready(): boolean;
  isLeader(): boolean;
  done: Promise<'stopped' | 'lost'>;
}

interface Informers {
  scimConfigs: SupervisedInformer<KubernetesObject>[];
  all: SupervisedInformer<KubernetesObject>[];
}

function makeInformers(o: OperatorOptions, clients: KubeClients, enqueue: (key: string) => void): Informers {
  const scopes = o.watchNamespaces?.length ? o.watchNamespaces : [undefined];
  const common = { watch: clients.watch, log: o.log, watchdogMs: o.watchdogMs, resyncMs: o.resyncMs };
  const scimConfigs: SupervisedInformer<KubernetesObject>[] = [];
  const secrets: SupervisedInformer<KubernetesObject>[] = [];
  for (const ns of scopes) {
    const g = { group: GROUP, version: VERSION, plural: PLURAL };
    scimConfigs.push(
      startInformer<KubernetesObject>({
        ...common,
        resource: 'scimconfigs',
        path: ns ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}` : `/apis/${GROUP}/${VERSION}/${PLURAL}`,
        list: async () => (ns ? clients.custom.listNamespacedCustomObject({ ...g, namespace: ns }) : clients.custom.listClusterCustomObject(g)) as Promise<KubernetesListObject<KubernetesObject>>,
        onEvent: (_e, obj) => enqueue(keyOf(obj)),
      }),
    );
    // Owned Secrets: a deleted or edited token Secret re-triggers its ScimConfig.
    secrets.push(
      startInformer<V1Secret>({
        ...common,
        resource: 'secrets',
        path: ns ? `/api/v1/namespaces/${ns}/secrets` : '/api/v1/secrets',
        labelSelector: MANAGED_BY_SELECTOR,
        list: () => (ns ? clients.core.listNamespacedSecret({ namespace: ns, labelSelector: MANAGED_BY_SELECTOR }) : clients.core.listSecretForAllNamespaces({ labelSelector: MANAGED_BY_SELECTOR })),
        onEvent: (_e, secret) => {
          const owner = secret.metadata?.ownerReferences?.find((r) => r.controller && r.kind === 'ScimConfig' && r.apiVersion === `${GROUP}/${VERSION}`);
          if (owner) enqueue(`${secret.metadata?.namespace ?? ''}/${owner.name}`);
        },
      }) as SupervisedInformer<KubernetesObject>,
    );
  }
  return { scimConfigs, all: [...scimConfigs, ...secrets] };
}

export function startOperator(o: OperatorOptions, signal: AbortSignal): RunningOperator {
  const clients = makeKubeClients(o.kubeconfig);
  const identity = o.identity ?? `${os.hostname()}_${randomUUID().slice(0, 8)}`;
  const log = o.log.child({ component: 'operator', identity });
  const queue = makeWorkQueue(undefined, (n) => operatorQueueDepth.set(n));
  const informers = makeInformers({ ...o, log }, clients, (key) => queue.add(key));
  const elector = makeLeaderElector({ ...o, custom: clients.custom, namespace: o.leaseNamespace, name: o.leaseName, identity, log });
  // onDelete revokeAll calls the target: its credentials as the reconciler reads them.
  const secrets = o.targetSecrets === 'kubernetes' ? makeKubernetesSecretReader({ db: o.pool, log, kubeconfig: o.kubeconfig }) : undefined;
  const deps: FinalizeDeps = {
    clients,
    pool: o.pool,
    log,
    events: makeEventRecorder(clients.custom, identity, log),
    endpointFor: o.endpointFor,
    statusRefreshMs: o.statusRefreshMs,
    secretsDir: o.secretsDir,
    readSecret: secrets?.read,
  };
  operatorLeader.set(0);

  const handler = async (key: string) => {
    const end = operatorReconcileDuration.startTimer();
    try {
      const r = await reconcileScimConfig(deps, key);
      operatorReconcileTotal.inc({ result: r.result });
      return r.requeueAfter === undefined ? undefined : { requeueAfter: r.requeueAfter };
    } catch (err) {
      operatorReconcileTotal.inc({ result: 'error' });
      throw err;
    } finally {
      end();
    }
  };
  const onError = (key: string, err: unknown) => log.warn({ object: key, error: apiMessage(err) }, 'reconcile failed; retrying with backoff');

  const run = async (): Promise<'stopped' | 'lost'> => {
    log.info({ namespaces: o.watchNamespaces?.length ? o.watchNamespaces : 'all', lease: `${o.leaseNamespace}/${o.leaseName}` }, 'operator started; waiting for the leader lease');
    const stopInformers = () => Promise.all(informers.all.map((i) => i.stop()));
    if (!(await elector.acquire(signal))) {
      await stopInformers();
      return 'stopped';
    }
    operatorLeader.set(1);
    log.info('leading: reconciling ScimConfigs');
    for (const inf of informers.scimConfigs) for (const obj of inf.list()) queue.add(keyOf(obj));
    const workers = runWorkers(queue, o.workers ?? 2, handler, onError);
    const outcome = await elector.renewLoop(signal);
    operatorLeader.set(0);
    queue.shutDown();
    if (outcome === 'lost') {
      // Another replica may already lead: stop at once, do not finish in-flight work.
      log.error({ renewDeadlineMs: o.renewDeadlineMs }, 'leader lease lost; exiting');
      void stopInformers();
      return 'lost';
    }
    await workers;
    await elector.release();
    await stopInformers();
    await secrets?.close();
    return 'stopped';
  };

  return { ready: () => informers.all.every((i) => i.synced()), isLeader: () => elector.isLeader(), done: run() };
}
