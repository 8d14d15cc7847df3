// Target credentials from the Kubernetes API (TARGET_SECRETS=kubernetes): the Secret that a
// ScimConfig's spec.target.http.tokenSecretRef or spec.target.postgres.connection.urlSecretRef
// names, in the ScimConfig's namespace. Each Secret read is watched from its first use (one
// supervised informer per Secret, a field selector on its name), so a rotated credential is
// used on the next target call without a restart, and it is never copied into Postgres.
// The namespace is the owning ScimConfig's (organizations.owner_ref "namespace/name").
// RBAC: secrets get/list/watch in the namespaces of the ScimConfigs (see docs/operator.md).
import type { KubernetesObject, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { findOrganization } from '../store/orgs.js';
import type { Queryable } from '../store/pool.js';
import type { SecretReader } from '../targets/index.js';
import { makeKubeClients } from './client.js';
import { startInformer, type SupervisedInformer } from './informer.js';

const SYNC_WAIT_MS = 5000;
const NAMESPACE_TTL_MS = 30_000;

export interface KubernetesSecretReader {
  read: SecretReader;
  close(): Promise<void>;
}

export function makeKubernetesSecretReader(opts: { db: Queryable; log: Logger; kubeconfig?: string }): KubernetesSecretReader {
  const clients = makeKubeClients(opts.kubeconfig);
  const informers = new Map<string, SupervisedInformer<V1Secret>>();
  const namespaces = new Map<string, { namespace: string; at: number }>();

  /** The owning ScimConfig's namespace (cached: the per-user hot path calls this per item). */
  async function namespaceOf(slug: string): Promise<string> {
    const hit = namespaces.get(slug);
    if (hit && Date.now() - hit.at < NAMESPACE_TTL_MS) return hit.namespace;
    const org = await findOrganization(opts.db, slug);
    if (org?.owner?.kind !== 'kubernetes') throw new Error(`organization ${slug} is not declared by a Kubernetes ScimConfig: a secret reference has no namespace`);
    const namespace = org.owner.ref.split('/')[0];
    namespaces.set(slug, { namespace, at: Date.now() });
    return namespace;
  }

  function informerFor(namespace: string, name: string): SupervisedInformer<V1Secret> {
    const key = `${namespace}/${name}`;
    let inf = informers.get(key);
    if (!inf) {
      const fieldSelector = `metadata.name=${name}`;
      inf = startInformer<V1Secret>({
        resource: 'secrets',
        path: `/api/v1/namespaces/${namespace}/secrets`,
        fieldSelector,
        list: () => clients.core.listNamespacedSecret({ namespace, fieldSelector }),
        watch: clients.watch,
        log: opts.log,
        watchdogMs: 120_000,
        resyncMs: 3_600_000,
        onEvent: () => {},
      });
      informers.set(key, inf);
    }
    return inf;
  }

  const read: SecretReader = async (organization, ref) => {
    const namespace = await namespaceOf(organization);
    const inf = informerFor(namespace, ref.name);
    const deadline = Date.now() + SYNC_WAIT_MS;
    while (!inf.synced()) {
      if (Date.now() > deadline) throw new Error(`Secret ${namespace}/${ref.name} could not be listed (apiserver unreachable or RBAC)`);
      await new Promise((r) => setTimeout(r, 25));
    }
    const secret = inf.get(ref.name, namespace) as (V1Secret & KubernetesObject) | undefined;
    if (!secret) throw new Error(`Secret ${namespace}/${ref.name} does not exist`);
    const value = secret.data?.[ref.key];
    if (value === undefined) throw new Error(`Secret ${namespace}/${ref.name} has no key "${ref.key}"`);
    return Buffer.from(value, 'base64').toString('utf8').trim();
  };

  return {
    read,
    async close() {
      await Promise.all([...informers.values()].map((i) => i.stop()));
      informers.clear();
    },
  };
}
