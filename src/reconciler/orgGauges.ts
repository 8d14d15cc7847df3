// Per-organization gauges sampled from the database (ready, held revocations, last full sync,
// drift): every reconciler replica reports the same values (aggregate with max/min across
// replicas, not sum), whichever replica ran the pass; a replica never keeps reporting a value
// another one has since replaced, and a restarted process reports them at once.
import { driftMembers, lastFullSync, orgLabel, organizationReady, revocationsHeld } from '../metrics.js';
import type { Queryable } from '../store/pool.js';

export interface OrganizationStatus {
  organization: string;
  /** Unix seconds of the last full pass that finished, null before the first. */
  lastFullSync: number | null;
  ready: boolean;
  held: number;
  /** scimsync_drift_members by kind, as the last full pass recorded it (reconcile_status.last_plan). */
  drift: Record<string, number> | null;
}

/**
 * Reads each live organization's status. Ready: the last full pass finished (last_full_sync_at)
 * without a recorded error (reconcile_status.last_error, set by a terminal failure) and no
 * organization pass is waiting to be retried after an error (reconcile_queue.last_error).
 */
export async function organizationStatuses(db: Queryable): Promise<OrganizationStatus[]> {
  const { rows } = await db.query<OrganizationStatus>(
    `select o.slug as organization,
            extract(epoch from s.last_full_sync_at)::float8 as "lastFullSync",
            (s.last_full_sync_at is not null and s.last_error is null
              and not exists (select 1 from reconcile_queue q
                               where q.organization_id = o.id and q.user_id is null and q.last_error is not null)) as ready,
            (select count(*) from reconcile_holds h where h.organization_id = o.id and h.approved_at is null)::int as held,
            s.last_plan->'drift' as drift
       from organizations o left join reconcile_status s on s.organization_id = o.id
      where o.deleted_at is null`,
  );
  return rows;
}

/** Replaces the per-organization gauges with the database's view (deleted organizations drop out). */
export async function sampleOrganizationGauges(db: Queryable): Promise<void> {
  const rows = await organizationStatuses(db);
  // Reset and set in one synchronous step, so a scrape never sees the gauges half-filled.
  organizationReady.reset();
  lastFullSync.reset();
  revocationsHeld.reset();
  driftMembers.reset();
  // METRICS_ORGANIZATION_LABELS=false: orgLabel() is "" for all, so values combine as in
  // src/metrics.ts: ready and last sync the worst (min), held and drift summed.
  const ready = new Map<string, number>();
  const held = new Map<string, number>();
  const synced = new Map<string, number>();
  const drift = new Map<string, Map<string, number>>();
  for (const r of rows) {
    const org = orgLabel(r.organization);
    ready.set(org, Math.min(ready.get(org) ?? 1, r.ready ? 1 : 0));
    held.set(org, (held.get(org) ?? 0) + r.held);
    if (r.lastFullSync !== null) synced.set(org, Math.min(synced.get(org) ?? Infinity, r.lastFullSync));
    const d = drift.get(org) ?? new Map<string, number>();
    for (const [kind, n] of Object.entries(r.drift ?? {})) if (typeof n === 'number') d.set(kind, (d.get(kind) ?? 0) + n);
    drift.set(org, d);
  }
  for (const [organization, v] of ready) organizationReady.set({ organization }, v);
  for (const [organization, v] of held) revocationsHeld.set({ organization }, v);
  for (const [organization, v] of synced) lastFullSync.set({ organization }, v);
  for (const [organization, d] of drift) for (const [kind, n] of d) driftMembers.set({ organization, kind }, n);
}
