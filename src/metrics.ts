// Every Prometheus metric scimsync exports, in one registry, with help text.
// docs/metrics.md describes them for operators.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

// ---- SCIM ingress ---------------------------------------------------------------------

export const scimRequestsTotal = new Counter({
  name: 'scimsync_scim_requests_total',
  help: 'SCIM requests answered, by HTTP method, resource (Users, Groups, ServiceProviderConfig, …) and status code.',
  labelNames: ['method', 'resource', 'code'] as const,
  registers: [registry],
});

export const scimRequestDuration = new Histogram({
  name: 'scimsync_scim_request_duration_seconds',
  help: 'Time to answer a SCIM request, from receipt to the last byte written.',
  labelNames: ['method', 'resource'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const scimUnknownMembersTotal = new Counter({
  name: 'scimsync_scim_unknown_members_total',
  help: 'Group member values skipped because they name no User or Group of the organization (POST, PUT or PATCH of a Group).',
  labelNames: ['organization'] as const,
  registers: [registry],
});

// ---- Reconciler -------------------------------------------------------------------------
// (issue 3 adds its metrics below)

export const provisioningLatency = new Histogram({
  name: 'scimsync_provisioning_latency_seconds',
  help: 'From the commit of a desired-state change (reconcile_queue.changed_at) to the target confirming the operation.',
  labelNames: ['operation'] as const,
  buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [registry],
});

export const driftMembers = new Gauge({
  name: 'scimsync_drift_members',
  help: 'Members differing between desired and actual state at the last full resync: missing (to grant), extra (to revoke or protected), changed (role/teams), unmanaged (unknown to SCIM).',
  labelNames: ['organization', 'kind'] as const,
  registers: [registry],
});

export const reconcileTotal = new Counter({
  name: 'scimsync_reconcile_total',
  help: 'Reconcile passes finished, by kind (user|organization) and result (success|error|terminal|requeue|aborted).',
  labelNames: ['kind', 'result'] as const,
  registers: [registry],
});

export const reconcileDuration = new Histogram({
  name: 'scimsync_reconcile_duration_seconds',
  help: 'Duration of one reconcile pass, by kind (user|organization).',
  labelNames: ['kind'] as const,
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [registry],
});

export const queueDepth = new Gauge({
  name: 'scimsync_queue_depth',
  help: 'Items in reconcile_queue (sampled by each reconciler process).',
  registers: [registry],
});

export const queueOldest = new Gauge({
  name: 'scimsync_queue_oldest_seconds',
  help: 'Age of the oldest unreconciled desired-state change in reconcile_queue (resync items excluded).',
  registers: [registry],
});

export const queueFailing = new Gauge({
  name: 'scimsync_queue_failing',
  help: 'Items in reconcile_queue that failed at least RECONCILER_FAILING_AFTER times in a row.',
  registers: [registry],
});

export const targetRequestsTotal = new Counter({
  name: 'scimsync_target_requests_total',
  help: 'Calls to targets, by target kind, operation (list|get|grant|update|revoke) and outcome (success|client_error|server_error|throttled|network_error).',
  labelNames: ['target', 'operation', 'outcome'] as const,
  registers: [registry],
});

export const revocationsHeld = new Gauge({
  name: 'scimsync_revocations_held',
  help: 'Revocations held by the revocation guard, awaiting `scimsync approve`.',
  labelNames: ['organization'] as const,
  registers: [registry],
});

export const lastFullSync = new Gauge({
  name: 'scimsync_last_full_sync_timestamp_seconds',
  help: 'Unix time the last full resync of the organization finished.',
  labelNames: ['organization'] as const,
  registers: [registry],
});

// ---- Operator (issue 8) -----------------------------------------------------------------

export const operatorLeader = new Gauge({
  name: 'scimsync_operator_leader',
  help: '1 while this operator replica holds the leader Lease (only the leader reconciles), else 0.',
  registers: [registry],
});

export const operatorReconcileTotal = new Counter({
  name: 'scimsync_operator_reconcile_total',
  help: 'ScimConfig reconciles finished, by result (success|error|requeue|conflict|invalid).',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const operatorReconcileDuration = new Histogram({
  name: 'scimsync_operator_reconcile_duration_seconds',
  help: 'Duration of one ScimConfig reconcile, from taking the key off the work queue to its outcome.',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

export const operatorQueueDepth = new Gauge({
  name: 'scimsync_operator_queue_depth',
  help: 'ScimConfig keys waiting in the operator work queue (not counting delayed retries).',
  registers: [registry],
});

export const watchRestartsTotal = new Counter({
  name: 'scimsync_operator_watch_restarts_total',
  help: 'Informer list/watch restarts after an error or a watch the server kept ending, by resource (scimconfigs|secrets).',
  labelNames: ['resource'] as const,
  registers: [registry],
});
