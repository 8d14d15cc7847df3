// Per-organization gauge values read from Postgres at scrape time (src/metrics.ts
// setOrganizationStateSource): the last full pass's drift (reconcile_status.last_plan.drift),
// held revocations and the last full sync, whichever replica ran the pass.
import type { OrganizationState } from '../metrics.js';
import type { Queryable } from '../store/pool.js';

export async function organizationStates(db: Queryable): Promise<OrganizationState[]> {
  const { rows } = await db.query<{ slug: string; drift: OrganizationState['drift'] | null; held: number; synced: number | null }>(
    `select o.slug, s.last_plan -> 'drift' as drift,
            (select count(*)::int from reconcile_holds h where h.organization_id = o.id and h.approved_at is null) as held,
            extract(epoch from s.last_full_sync_at)::float8 as synced
       from organizations o left join reconcile_status s on s.organization_id = o.id`,
  );
  return rows.map((r) => ({ organization: r.slug, drift: r.drift ?? undefined, held: r.held, lastFullSync: r.synced ?? undefined }));
}
