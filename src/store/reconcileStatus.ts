// reconcile_status: one row per organization — when its next full pass is due, what the last
// one found (member count, plan summary with the drift) and the last terminal error. Read by
// `scimsync plan`, the operator's status and, at scrape time, the per-organization gauges.
import type { OrganizationState } from '../metrics.js';
import type { Queryable } from './pool.js';

/**
 * Records a finished full pass: the next one is due in `resyncIntervalMs`, the pass took
 * `seconds`, the target held `members`, `summary` is the plan summary (reconcile_status.last_plan,
 * jsonb); clears the last error.
 */
export async function recordFullSync(db: Queryable, organizationId: string, resyncIntervalMs: number, seconds: number, members: number, summary: Record<string, unknown>): Promise<void> {
  await db.query(
    `insert into reconcile_status (organization_id, next_resync_at, last_full_sync_at, last_full_sync_seconds, member_count, last_plan, last_error)
     values ($1::uuid, clock_timestamp() + make_interval(secs => $2::double precision / 1000), clock_timestamp(), $3::float8, $4::int, $5::jsonb, null)
     on conflict (organization_id) do update
       set next_resync_at = excluded.next_resync_at, last_full_sync_at = excluded.last_full_sync_at,
           last_full_sync_seconds = excluded.last_full_sync_seconds, member_count = excluded.member_count,
           last_plan = excluded.last_plan, last_error = null`,
    [organizationId, resyncIntervalMs, seconds, members, JSON.stringify(summary)],
  );
}

/**
 * Records a pass that failed terminally (for `scimsync plan` and the status; cleared by the
 * next successful full pass). An organization pass also puts its next resync 5 minutes off
 * (its row exists: scheduleResyncs created it); a per-user pass creates the row if need be.
 */
export async function recordTerminalError(db: Queryable, organizationId: string, pass: 'organization' | 'user', message: string): Promise<void> {
  if (pass === 'organization') {
    await db.query(`update reconcile_status set next_resync_at = clock_timestamp() + interval '5 minutes', last_error = $2::text where organization_id = $1::uuid`, [organizationId, message]);
  } else {
    await db.query(
      `insert into reconcile_status (organization_id, last_error) values ($1::uuid, $2::text)
       on conflict (organization_id) do update set last_error = excluded.last_error`,
      [organizationId, message],
    );
  }
}

/** The last pass's terminal error, or null. */
export async function lastError(db: Queryable, organizationId: string): Promise<string | null> {
  const { rows } = await db.query<{ e: string | null }>(`select last_error as e from reconcile_status where organization_id = $1::uuid`, [organizationId]);
  return rows[0]?.e ?? null;
}

/**
 * Each live organization's gauge values, read at scrape time (src/metrics.ts
 * setOrganizationStateSource) so every replica, ingress-only ones included, exports the same
 * current values whichever replica ran the pass. Deleted organizations drop out. Ready: the
 * last full pass finished (last_full_sync_at) without a recorded error
 * (reconcile_status.last_error, set by a terminal failure) and no organization pass is waiting
 * to be retried after an error (reconcile_queue.last_error).
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
