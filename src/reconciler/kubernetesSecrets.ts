// TARGET_SECRETS=kubernetes: the Kubernetes secret reader, imported only when asked for —
// @kubernetes/client-node takes 1–5 s to import, which local mode should not pay.
import type { Logger } from 'pino';
import type { KubernetesSecretReader } from '../k8s/secretReader.js';
import type { Queryable } from '../store/pool.js';

export async function kubernetesSecrets(db: Queryable, log: Logger, kubeconfig?: string): Promise<KubernetesSecretReader> {
  const { makeKubernetesSecretReader } = await import('../k8s/secretReader.js');
  return makeKubernetesSecretReader({ db, log, kubeconfig });
}
