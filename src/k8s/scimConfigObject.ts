// The ScimConfig custom resource as the operator sees it (deploy/crds/scimconfigs.scimsync.io.yaml),
// and the names the operator owns: finalizer, annotations, the token Secret.
import type { Condition } from './conditions.js';

export const FINALIZER = 'scimsync.io/revoke-token';

/** "Do this now" requests: a new value asks once (Flux's reconcile.fluxcd.io/requestedAt). */
export const ANNOTATIONS = {
  rotateToken: 'scimsync.io/rotate-token',
  approveRevocations: 'scimsync.io/approve-revocations',
  requestedSyncAt: 'scimsync.io/requested-sync-at',
} as const;

export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'scimsync' } as const;
export const MANAGED_BY_SELECTOR = 'app.kubernetes.io/managed-by=scimsync';

export const tokenSecretName = (scimConfigName: string) => `${scimConfigName}-scim-token`;

export interface ScimConfigCounts {
  users: number;
  activeUsers: number;
  groups: number;
  heldRevocations: number;
  drift: { missing: number; extra: number; changed: number; unmanaged: number };
  driftTotal: number;
}

export interface ScimConfigStatus {
  observedGeneration?: number;
  endpoint?: string;
  tokenSecretName?: string;
  tokenCreatedAt?: string;
  lastFullSyncTime?: string;
  lastHandledRotation?: string;
  lastHandledApproval?: string;
  lastHandledReconcileAt?: string;
  counts?: ScimConfigCounts;
  conditions?: Condition[];
}

export interface ScimConfigObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    annotations?: Record<string, string>;
    finalizers?: string[];
    deletionTimestamp?: string;
  };
  spec?: unknown;
  status?: ScimConfigStatus;
}

export const keyOf = (o: { metadata?: { namespace?: string; name?: string } }) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export const regardingOf = (o: ScimConfigObject) => ({
  apiVersion: o.apiVersion,
  kind: o.kind,
  namespace: o.metadata.namespace,
  name: o.metadata.name,
  uid: o.metadata.uid,
  resourceVersion: o.metadata.resourceVersion,
});
