// The Kubernetes API client: the one place building a KubeConfig and the typed APIs.
// Objects are plain JSON (KubernetesObject); the ScimConfig spec is validated by our zod schema.
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type KubernetesObject,
} from '@kubernetes/client-node';

export const GROUP = 'scimsync.io';
export const VERSION = 'v1alpha1';
export const PLURAL = 'scimconfigs';

export interface KubeClients {
  kc: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  watch: Watch;
}

/**
 * A kubeconfig file when given (KUBECONFIG), else the in-cluster service account when running
 * in a pod (KUBERNETES_SERVICE_HOST, read by client-node itself), else ~/.kube/config.
 */
export function makeKubeClients(kubeconfig?: string): KubeClients {
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  return { kc, core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi), watch: new Watch(kc) };
}

/**
 * client-node 1.4 sends application/json-patch+json for every patch unless told otherwise;
 * custom resources refuse strategic merge (415), so merge patches say so explicitly.
 */
export const mergePatch = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
export const jsonPatch = () => setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

/** HTTP status of a failed API call (ApiException.code, Watch errors' statusCode), else undefined. */
export function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown } | null;
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return undefined;
}

export const isNotFound = (err: unknown) => statusOf(err) === 404;
export const isConflict = (err: unknown) => statusOf(err) === 409;

/** The apiserver's message of a failed call (its Status body), for logs and conditions. */
export function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown })?.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: string };
      if (parsed.message) return parsed.message;
    } catch {
      return body.slice(0, 500);
    }
  }
  if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') return (body as { message: string }).message;
  return err instanceof Error ? err.message : String(err);
}

export type { KubernetesObject };

/**
 * A MicroTime (Lease renewTime, Event eventTime): RFC 3339 with exactly six fractional digits,
 * the format the apiserver parses (metav1.RFC3339Micro); Date#toISOString gives three.
 */
export const microTime = (d: Date = new Date()) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
