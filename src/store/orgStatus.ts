// What an organization's ScimConfig status reports (operator, issue 8): directory counts,
// held revocations, and the last full resync's time, plan summary and error.
import type { Queryable } from './pool.js';

export interface OrganizationStatusRow {
  users: number;
  activeUsers: number;
  groups: number;
  heldRevocations: number;
  /** ISO 8601; null before the first full resync. */
  lastFullSyncAt: string | null;
  /** reconcile_status.last_plan: counts of the last full pass's plan (see planSummary). */
  lastPlan: { grants?: number; updates?: number; revocations?: number; unmanaged?: number; protectedKept?: number; dryRun?: boolean } | null;
  /**
   * The last full pass's error (a target that failed), null when it succeeded: the terminal
   * error (reconcile_status.last_error), else the error of an organization pass waiting to be
   * retried (reconcile_queue.last_error), as the scimsync_organization_ready gauge reads them.
   */
  lastError: string | null;
}

/** One round trip; counts exclude SCIM-deleted users (tombstones). */
export async function organizationStatus(db: Queryable, organizationId: string): Promise<OrganizationStatusRow> {
  const { rows } = await db.query<OrganizationStatusRow>(
    `select (select count(*)::int from scim_users where organization_id = $1::uuid and deleted_at is null) as users,
            (select count(*)::int from scim_users where organization_id = $1::uuid and deleted_at is null and active) as "activeUsers",
            (select count(*)::int from scim_groups where organization_id = $1::uuid) as groups,
            (select count(*)::int from reconcile_holds where organization_id = $1::uuid and approved_at is null) as "heldRevocations",
            to_json(s.last_full_sync_at)#>>'{}' as "lastFullSyncAt", s.last_plan as "lastPlan",
            coalesce(s.last_error,
                     (select q.last_error from reconcile_queue q
                       where q.organization_id = $1::uuid and q.user_id is null and q.last_error is not null limit 1)) as "lastError"
       from (select 1) as one left join reconcile_status s on s.organization_id = $1::uuid`,
    [organizationId],
  );
  return rows[0];
}
