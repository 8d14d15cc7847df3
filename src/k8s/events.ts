// Kubernetes Events (events.k8s.io/v1) about ScimConfigs: few and meaningful (kubebuilder
// "raising events"). Callers emit on transitions only (a token issued, a condition changing);
// the recorder additionally drops an identical event (same object, reason and note) seen in the
// last 10 minutes, so a retried reconcile does not repeat itself. An Event that cannot be
// written is logged and dropped: events are best effort and never fail a reconcile.
// Written through the custom-objects API: eventTime is a MicroTime (see lease.ts).
import { randomBytes } from 'node:crypto';
import type { CustomObjectsApi } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { microTime } from './client.js';

export const REPORTING_CONTROLLER = 'scimsync.io/operator';

export interface Regarding {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
}

export interface EventInput {
  type: 'Normal' | 'Warning';
  /** CamelCase: TokenIssued, TokenRotated, TokenReissued, TokenRevoked, RevocationsHeld, OrganizationConflict, InvalidSpec … */
  reason: string;
  /** What the controller did (events.k8s.io/v1 `action`): IssueToken, RotateToken, RevokeTokens, Reconcile … */
  action: string;
  note: string;
}

export interface EventRecorder {
  emit(regarding: Regarding, e: EventInput): Promise<void>;
}

const DEDUP_MS = 10 * 60_000;

export function makeEventRecorder(custom: CustomObjectsApi, reportingInstance: string, log: Logger): EventRecorder {
  const recent = new Map<string, number>();
  return {
    async emit(regarding, e) {
      const key = `${regarding.uid ?? `${regarding.namespace}/${regarding.name}`}|${e.reason}|${e.note}`;
      const now = Date.now();
      for (const [k, at] of recent) if (now - at > DEDUP_MS) recent.delete(k);
      if (recent.has(key)) return;
      recent.set(key, now);
      const body = {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name: `${regarding.name}.${randomBytes(8).toString('hex')}`, namespace: regarding.namespace },
        eventTime: microTime(),
        reportingController: REPORTING_CONTROLLER,
        reportingInstance,
        action: e.action,
        reason: e.reason,
        type: e.type,
        note: e.note.slice(0, 1024), // the apiserver refuses notes over 1 kB
        regarding,
      };
      try {
        await custom.createNamespacedCustomObject({ group: 'events.k8s.io', version: 'v1', namespace: regarding.namespace, plural: 'events', body });
      } catch (err) {
        recent.delete(key);
        log.warn({ err, reason: e.reason, object: `${regarding.namespace}/${regarding.name}` }, 'could not record an Event');
      }
    },
  };
}
