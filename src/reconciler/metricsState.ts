// Per-organization gauge values read from Postgres at scrape time (src/metrics.ts
// setOrganizationStateSource): Ready, the last full pass's drift (reconcile_status.last_plan.drift),
// held revocations and the last full sync, whichever replica ran the pass — so every replica,
// ingress-only ones included, exports the same current values. Deleted organizations drop out.
import type { OrganizationState } from '../metrics.js';
import type { Queryable } from '../store/pool.js';

/**
 * Each live organization's state. Ready: the last full pass finished (last_full_sync_at)
 * without a recorded error (reconcile_status.last_error, set by a terminal failure) and no
 * organization pass is waiting to be retried after an error (reconcile_queue.last_error).
 */
export async function organizationStates(db: Queryable): Promise<OrganizationState[]> {
  const { rows } = await db.query<{ slug: string; ready: boolean; drift: OrganizationState['drift'] | null; held: number; synced: number | null }>(
    `select o.slug,
            (s.last_full_sync_at is not null and s.last_error is null
              and not exists (select 1 from reconcile_queue q
                               where q.organization_id = o.id and q.user_id is null and q.last_error is not null)) as ready,
            s.last_plan -> 'drift' as drift,
            (select count(*)::int from reconcile_holds h where h.organization_id = o.id and h.approved_at is null) as held,
            extract(epoch from s.last_full_sync_at)::float8 as synced
       from organizations o left join reconcile_status s on s.organization_id = o.id
      where o.deleted_at is null`,
  );
  return rows.map((r) => ({ organization: r.slug, ready: r.ready, drift: r.drift ?? undefined, held: r.held, lastFullSync: r.synced ?? undefined }));
}
