// "Needs reconciling" markers (DESIGN.md: write and enqueue in one transaction). The SCIM
// store calls markForReconcile inside the transaction of every write to users, groups or
// memberships; pg_notify is transactional, so workers are woken only once the change commits.
import { prepared, type PoolClient } from './pool.js';

export const RECONCILE_CHANNEL = 'scimsync_reconcile';
/** Above this many affected users one organization-wide item replaces per-user items. */
export const MAX_USER_ITEMS = 1000;

/**
 * A data-modifying statement (for a `with` clause) that marks the users `idsSql` yields
 * (a query of one uuid column; a null id marks the whole organization `orgParam`).
 * changed_at keeps the earliest unreconciled change (provisioning latency is measured from
 * it); revision increments so a worker that is mid-pass sees that it must run again.
 * Use it in the last statement of the transaction: clock_timestamp() is then the closest we
 * get to the commit time.
 */
export function markStatement(orgParam: string, idsSql: string): string {
  return `insert into reconcile_queue (organization_id, user_id, changed_at, run_at)
     select ${orgParam}::uuid, m.id, clock_timestamp(), clock_timestamp() from (${idsSql}) as m(id)
     on conflict (organization_id, coalesce(user_id, '00000000-0000-0000-0000-000000000000'::uuid))
     do update set revision = reconcile_queue.revision + 1,
                   run_at = least(reconcile_queue.run_at, excluded.run_at),
                   attempts = 0
     returning 1`;
}

/** pg_notify of the organization, once, when the `with` query `cte` wrote a marker. */
export const notifyAfter = (cte: string, orgParam: string) =>
  `(select pg_notify('${RECONCILE_CHANNEL}', ${orgParam}::text) from (select 1 from ${cte} limit 1) as n)`;

const MARK_SQL = `with q as (${markStatement('$1', 'select unnest(coalesce($2::uuid[], array[null::uuid]))')})
     select ${notifyAfter('q', '$1')}`;

/**
 * Records that the organization (userIds undefined) or some of its users need reconciling,
 * and wakes the workers (NOTIFY is delivered at commit) — one statement, one round trip.
 */
export async function markForReconcile(client: PoolClient, organizationId: string, userIds?: readonly string[]): Promise<void> {
  const ids = userIds && userIds.length <= MAX_USER_ITEMS ? [...new Set(userIds)] : undefined;
  if (ids && ids.length === 0) return;
  await client.query(prepared(MARK_SQL, [organizationId, ids ?? null]));
}
