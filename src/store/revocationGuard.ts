// The revocation guard's window (reconcile_guard_reservations, counted with the applied
// revocations in reconcile_events): how many unapproved revocations an organization made or
// reserved in the sliding window, and the reservations themselves. The limit and the decision
// are the reconciler's (src/reconciler/guard.ts); these statements take the limit as a number.
// Per-user passes reserve their revocation instead of holding the organization's lock across
// the target call: that lock serialised every revocation of an organization, guard enabled or
// not (scenario 6 in docs/benchmarks.md: p99 6 s at 200/s).
import { withTransaction, type Pool, type Queryable } from './pool.js';

// Applied revocations in the window plus those reserved and still in flight.
const WINDOW_COUNT = `(select count(*) from reconcile_events
    where organization_id = $1::uuid and operation = 'revoke' and result = 'ok' and not approved
      and at > clock_timestamp() - make_interval(secs => $2::double precision / 1000))
  + (select count(*) from reconcile_guard_reservations
    where organization_id = $1::uuid and reserved_at > clock_timestamp() - make_interval(secs => $2::double precision / 1000))`;

/** A limit as a statement parameter: Infinity (no limit) as the largest int. */
const limitParam = (limit: number): number => (Number.isFinite(limit) ? limit : 2 ** 31 - 1);

/** Unapproved revocations applied or reserved in the last `windowMs` milliseconds. */
export async function revokedInWindow(db: Queryable, organizationId: string, windowMs: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select (${WINDOW_COUNT})::int as n`, [organizationId, windowMs]);
  return rows[0].n;
}

/** The guard lock of an organization: serialises count-then-reserve across workers and replicas. */
async function lockGuard(client: Queryable, organizationId: string): Promise<void> {
  await client.query(`select pg_advisory_xact_lock(hashtextextended($1::text, 0))`, [`scimsync-guard:${organizationId}`]);
}

/**
 * Reserves one revocation of `email` if the window's count stays within `limit` (Infinity: no
 * limit); `used` is the count before it, `id` the reservation (undefined: it did not fit).
 * Its own short transaction (not the member's): the guard lock is released at once, so
 * revocations of one organization reach the target concurrently while the window still never
 * overshoots. Expired reservations are deleted on the way.
 */
export async function reserveRevocation(pool: Pool, organizationId: string, windowMs: number, limit: number, email: string): Promise<{ used: number; id?: string }> {
  return withTransaction(pool, async (client) => {
    await lockGuard(client, organizationId);
    const { rows } = await client.query<{ n: number; id: string | null }>(
      `with expired as (
         delete from reconcile_guard_reservations
          where organization_id = $1::uuid and reserved_at <= clock_timestamp() - make_interval(secs => $2::double precision / 1000)
       ),
       used as (select (${WINDOW_COUNT})::int as n),
       reserved as (
         insert into reconcile_guard_reservations (organization_id, email)
         select $1::uuid, $3::text from used where used.n + 1 <= $4::int
         returning id
       )
       select used.n, (select id from reserved) as id from used`,
      [organizationId, windowMs, email, limitParam(limit)],
    );
    return rows[0].id === null ? { used: rows[0].n } : { used: rows[0].n, id: rows[0].id };
  });
}

/**
 * reserveRevocation for all `emails` at once, or none: reserved when there are some and
 * used + emails.length ≤ limit. Under the same guard lock and window count, so a full pass and
 * per-user passes on any replica together never exceed the limit. Returns the count before
 * (`used`) and, when reserved, the reservation id per email.
 */
export async function reserveRevocations(pool: Pool, organizationId: string, windowMs: number, limit: number, emails: string[]): Promise<{ used: number; ids?: Map<string, string> }> {
  return withTransaction(pool, async (client) => {
    await lockGuard(client, organizationId);
    await client.query(
      `delete from reconcile_guard_reservations
        where organization_id = $1::uuid and reserved_at <= clock_timestamp() - make_interval(secs => $2::double precision / 1000)`,
      [organizationId, windowMs],
    );
    const used = await revokedInWindow(client, organizationId, windowMs);
    if (emails.length === 0 || used + emails.length > limit) return { used };
    const { rows } = await client.query<{ id: string; email: string }>(
      `insert into reconcile_guard_reservations (organization_id, email) select $1::uuid, e from unnest($2::text[]) as e returning id, email`,
      [organizationId, emails],
    );
    return { used, ids: new Map(rows.map((r) => [r.email, r.id])) };
  });
}

/** Releases reservations a pass did not use (ops skipped because the member changed meanwhile). */
export async function releaseReservations(db: Queryable, ids: string[]): Promise<void> {
  if (ids.length) await db.query(`delete from reconcile_guard_reservations where id = any($1::bigint[])`, [ids]);
}

/** Members the guard's fraction refers to: the target's count at the last full pass, else live active users. */
export async function memberCount(db: Queryable, organizationId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `select coalesce((select member_count from reconcile_status where organization_id = $1::uuid),
                     (select count(*)::int from scim_users where organization_id = $1::uuid and deleted_at is null and active)) as n`,
    [organizationId],
  );
  return rows[0].n;
}
