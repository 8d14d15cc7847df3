// "Needs reconciling" markers (DESIGN.md: write and enqueue in one transaction). The SCIM
// store calls markForReconcile inside the transaction of every write to users, groups or
// memberships; pg_notify is transactional, so workers are woken only once the change commits.
import type { PoolClient } from './pool.js';

export const RECONCILE_CHANNEL = 'scimsync_reconcile';
/** Above this many affected users one organization-wide item replaces per-user items. */
export const MAX_USER_ITEMS = 1000;

/**
 * Records that the organization (userIds undefined) or some of its users need reconciling.
 * changed_at keeps the earliest unreconciled change (provisioning latency is measured from
 * it); revision increments so a worker that is mid-pass sees that it must run again.
 * Call it as the last statement of the transaction: clock_timestamp() is then the closest
 * we get to the commit time.
 */
export async function markForReconcile(client: PoolClient, organizationId: string, userIds?: readonly string[]): Promise<void> {
  const ids = userIds && userIds.length <= MAX_USER_ITEMS ? [...new Set(userIds)] : undefined;
  if (ids && ids.length === 0) return;
  await client.query(
    `insert into reconcile_queue (organization_id, user_id, changed_at, run_at)
     select $1::uuid, u.id, clock_timestamp(), clock_timestamp()
       from unnest(coalesce($2::uuid[], array[null::uuid])) as u(id)
     on conflict (organization_id, coalesce(user_id, '00000000-0000-0000-0000-000000000000'::uuid))
     do update set revision = reconcile_queue.revision + 1,
                   run_at = least(reconcile_queue.run_at, excluded.run_at),
                   attempts = 0`,
    [organizationId, ids ?? null],
  );
  await client.query('select pg_notify($1::text, $2::text)', [RECONCILE_CHANNEL, organizationId]);
}
