// Every Prometheus metric scimsync exports, in one registry, with help text.
// docs/metrics.md describes them for operators.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

// prom-client exports a metric without labels from the moment it is registered (at 0). The
// reconciler's queue gauges and the operator's gauges are registered only in the processes
// that run those parts (registerProcessMetrics), so an ingress-only pod does not report
// `scimsync_operator_leader 0` (which would read as "no leader") or `scimsync_queue_depth 0`
// (which would hide a missing reconciler from ScimsyncMetricsAbsent).

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

export const scimOrgRequestsQueued = new Gauge({
  name: 'scimsync_scim_org_requests_queued',
  help: 'SCIM requests of an organization waiting for one of its SCIM_ORG_CONCURRENCY slots.',
  labelNames: ['organization'] as const,
  registers: [registry],
});

export const scimOrgThrottledTotal = new Counter({
  name: 'scimsync_scim_org_throttled_total',
  help: 'SCIM requests answered 429 because their organization had SCIM_ORG_CONCURRENCY in progress and its queue was full or the wait timed out.',
  labelNames: ['organization'] as const,
  registers: [registry],
});

export const scimAuthFailuresTotal = new Counter({
  name: 'scimsync_scim_auth_failures_total',
  help: 'SCIM requests refused at authentication, by reason: 401 missing|malformed|unknown|revoked|expired|wrong_organization, or 429 rate_limited (too many failed attempts from the address or against the organization); organization: the one the presented token belongs to ("" when no stored token matched, and for rate_limited).',
  labelNames: ['organization', 'reason'] as const,
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
  registers: [], // registerProcessMetrics('reconciler')
});

export const queueOldest = new Gauge({
  name: 'scimsync_queue_oldest_seconds',
  help: 'Age of the oldest unreconciled desired-state change in reconcile_queue (resync items excluded).',
  registers: [], // registerProcessMetrics('reconciler')
});

export const queueFailing = new Gauge({
  name: 'scimsync_queue_failing',
  help: 'Items in reconcile_queue that failed at least RECONCILER_FAILING_AFTER times in a row.',
  registers: [], // registerProcessMetrics('reconciler')
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

export const organizationReady = new Gauge({
  name: 'scimsync_organization_ready',
  help: 'Whether the organization is Ready: 1 when its last full pass completed without error and no organization pass is failing, else 0 (read from the database at scrape time).',
  labelNames: ['organization'] as const,
  registers: [registry],
});

// ---- Operator (issue 8) -----------------------------------------------------------------

export const operatorLeader = new Gauge({
  name: 'scimsync_operator_leader',
  help: '1 while this operator replica holds the leader Lease (only the leader reconciles), else 0.',
  registers: [], // registerProcessMetrics('operator')
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
  registers: [], // registerProcessMetrics('operator')
});

export const operatorQueueDepth = new Gauge({
  name: 'scimsync_operator_queue_depth',
  help: 'ScimConfig keys waiting in the operator work queue (not counting delayed retries).',
  registers: [], // registerProcessMetrics('operator')
});

export const watchRestartsTotal = new Counter({
  name: 'scimsync_operator_watch_restarts_total',
  help: 'Informer list/watch restarts after an error or a watch the server kept ending, by resource (scimconfigs|secrets).',
  labelNames: ['resource'] as const,
  registers: [registry],
});

// ---- Per-organization series: labels and the source of truth ---------------------------

let organizationLabels = true;

/**
 * METRICS_ORGANIZATION_LABELS=false: every per-organization series is exported once, with
 * organization="" (counters and counts summed, the last full sync the oldest), so the series
 * count no longer grows with the number of organizations (docs/metrics.md).
 */
export function setOrganizationLabels(on: boolean): void {
  organizationLabels = on;
}

/** The organization label value of a series: the slug, or "" when per-organization labels are off. */
export const orgLabel = (slug: string): string => (organizationLabels ? slug : '');

/** What the last full pass of one organization found, as stored in Postgres (reconcile_status, reconcile_holds). */
export interface OrganizationState {
  organization: string;
  /** scimsync_organization_ready: the last full pass finished cleanly and no organization pass awaits a retry. */
  ready: boolean;
  drift?: { missing: number; extra: number; changed: number; unmanaged: number };
  held: number;
  /** Unix seconds; undefined before the first full pass. */
  lastFullSync?: number;
}

let stateSource: (() => Promise<OrganizationState[]>) | undefined;

/**
 * Makes the Ready, drift, held and last-full-sync gauges read Postgres at scrape time. With several
 * reconciler replicas the pass of an organization runs on any of them; a gauge set in
 * process would keep, in every other replica, the value of whatever pass it last ran itself —
 * stale and contradicting the others. Read from the database, every replica exports the same,
 * current value (aggregate with max by (organization)). Unset (tests driving passes in
 * process): the values the passes set here.
 */
export function setOrganizationStateSource(source: (() => Promise<OrganizationState[]>) | undefined): void {
  stateSource = source;
}

async function refreshOrganizationGauges(): Promise<void> {
  if (!stateSource) return;
  const states = await stateSource();
  organizationReady.reset();
  driftMembers.reset();
  revocationsHeld.reset();
  lastFullSync.reset();
  const ready = new Map<string, number>();
  const drift = new Map<string, number>();
  const held = new Map<string, number>();
  const synced = new Map<string, number>();
  for (const s of states) {
    const org = orgLabel(s.organization);
    // Labels off (organization=""): Ready and the last sync are the worst, counts summed.
    ready.set(org, Math.min(ready.get(org) ?? 1, s.ready ? 1 : 0));
    for (const [kind, n] of Object.entries(s.drift ?? {})) drift.set(`${org}\u0000${kind}`, (drift.get(`${org}\u0000${kind}`) ?? 0) + n);
    held.set(org, (held.get(org) ?? 0) + s.held);
    if (s.lastFullSync !== undefined) synced.set(org, Math.min(synced.get(org) ?? Infinity, s.lastFullSync));
  }
  for (const [key, n] of drift) {
    const [organization, kind] = key.split('\u0000');
    driftMembers.set({ organization, kind }, n);
  }
  for (const [organization, v] of ready) organizationReady.set({ organization }, v);
  for (const [organization, n] of held) revocationsHeld.set({ organization }, n);
  for (const [organization, t] of synced) lastFullSync.set({ organization }, t);
}

/** The exposition text of every metric (per-organization gauges refreshed first). */
export async function renderMetrics(): Promise<string> {
  await refreshOrganizationGauges();
  return registry.metrics();
}

const processMetrics = {
  reconciler: [queueDepth, queueOldest, queueFailing],
  operator: [operatorLeader, operatorReconcileDuration, operatorQueueDepth],
};

/** Registers the label-less metrics of a part in this process's registry (idempotent). */
export function registerProcessMetrics(part: keyof typeof processMetrics): void {
  for (const m of processMetrics[part]) {
    if (!registry.getSingleMetric((m as unknown as { name: string }).name)) registry.registerMetric(m);
  }
}
