// The revocation guard: a pass may revoke at most max(maxCount, ceil(maxFraction × members))
// members per sliding window (revocations already applied in the window count, approved ones
// do not). Per-user passes and full passes share the window, so a mass deprovisioning that
// arrives as thousands of single-user SCIM writes is held as surely as one big diff.
// Per-user passes reserve their revocation (reserveRevocation) instead of holding the
// organization's lock across the target call: that lock serialised every revocation of an
// organization, guard enabled or not (scenario 6 in docs/benchmarks.md: p99 6 s at 200/s).
import type { ResolvedScimConfigSpec } from '../orgs/scimConfig.js';
import { withTransaction, type Pool, type Queryable } from '../store/pool.js';
import { auditRowsCte, type AuditActor } from '../store/audit.js';

export type GuardSpec = ResolvedScimConfigSpec['revocationGuard'];

export function revocationLimit(guard: GuardSpec, memberCount: number): number {
  if (!guard.enabled || (guard.maxCount === null && guard.maxFraction === null)) return Infinity;
  const byFraction = guard.maxFraction === null ? 0 : Math.ceil(guard.maxFraction * memberCount);
  return Math.max(guard.maxCount ?? 0, byFraction);
}

export interface GuardDecision {
  limit: number;
  revokedInWindow: number;
  /** True: hold the (unapproved) revocations of this pass. */
  hold: boolean;
}

/** Pure: whether `planned` more revocations fit in the window. */
export function decideGuard(guard: GuardSpec, memberCount: number, revokedInWindow: number, planned: number): GuardDecision {
  const limit = revocationLimit(guard, memberCount);
  return { limit, revokedInWindow, hold: planned > 0 && revokedInWindow + planned > limit };
}

/** True when the guard can hold nothing (disabled or without limits): no counting, no lock. */
export const guardUnlimited = (guard: GuardSpec): boolean => revocationLimit(guard, 0) === Infinity;

// Applied revocations in the window plus those reserved and still in flight.
const WINDOW_COUNT = `(select count(*) from reconcile_events
    where organization_id = $1::uuid and operation = 'revoke' and result = 'ok' and not approved
      and at > clock_timestamp() - make_interval(secs => $2::double precision / 1000))
  + (select count(*) from reconcile_guard_reservations
    where organization_id = $1::uuid and reserved_at > clock_timestamp() - make_interval(secs => $2::double precision / 1000))`;

export async function revokedInWindow(db: Queryable, organizationId: string, windowMs: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select (${WINDOW_COUNT})::int as n`, [organizationId, windowMs]);
  return rows[0].n;
}

export interface Reservation {
  decision: GuardDecision;
  /** Set when the revocation may go ahead: executeOp releases it with the revocation's event. */
  id?: string;
}

/**
 * Reserves one unapproved revocation of `email` in the organization's window, or decides to
 * hold it. Its own short transaction (not the member's): the guard lock serialises
 * count-then-reserve across workers and replicas and is released at once, so revocations of
 * one organization reach the target concurrently while the window still never overshoots.
 */
export async function reserveRevocation(pool: Pool, organizationId: string, guard: GuardSpec, members: number, email: string): Promise<Reservation> {
  const limit = revocationLimit(guard, members);
  return withTransaction(pool, async (client) => {
    await client.query(`select pg_advisory_xact_lock(hashtextextended($1::text, 0))`, [`scimsync-guard:${organizationId}`]);
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
      [organizationId, guard.window, email, Number.isFinite(limit) ? limit : 2 ** 31 - 1],
    );
    const decision = decideGuard(guard, members, rows[0].n, 1);
    return rows[0].id === null ? { decision: { ...decision, hold: true } } : { decision, id: rows[0].id };
  });
}

/**
 * A full pass's counterpart of reserveRevocation: reserves all `emails` at once, or none.
 * Under the same guard lock and window count as per-user passes, so a full pass and per-user
 * passes on any replica together never exceed the limit (before, a full pass decided from an
 * unlocked count and reserved nothing: with per-user passes revoking meanwhile the window
 * could take about twice its limit). All or none: a pass whose revocations do not fit holds
 * them all, as before. Returns the reservation id per email when they fit.
 */
export async function reserveRevocations(pool: Pool, organizationId: string, guard: GuardSpec, members: number, emails: string[]): Promise<{ decision: GuardDecision; ids?: Map<string, string> }> {
  const limit = revocationLimit(guard, members);
  return withTransaction(pool, async (client) => {
    await client.query(`select pg_advisory_xact_lock(hashtextextended($1::text, 0))`, [`scimsync-guard:${organizationId}`]);
    await client.query(
      `delete from reconcile_guard_reservations
        where organization_id = $1::uuid and reserved_at <= clock_timestamp() - make_interval(secs => $2::double precision / 1000)`,
      [organizationId, guard.window],
    );
    const used = await revokedInWindow(client, organizationId, guard.window);
    const decision = decideGuard(guard, members, used, emails.length);
    if (decision.hold || emails.length === 0) return { decision };
    const { rows } = await client.query<{ id: string; email: string }>(
      `insert into reconcile_guard_reservations (organization_id, email) select $1::uuid, e from unnest($2::text[]) as e returning id, email`,
      [organizationId, emails],
    );
    return { decision, ids: new Map(rows.map((r) => [r.email, r.id])) };
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

export interface Hold {
  email: string;
  reason: string;
  heldAt: string;
  approvedAt: string | null;
}

export async function listHolds(db: Queryable, organizationId: string): Promise<Hold[]> {
  const { rows } = await db.query<Hold>(
    `select email, reason, held_at as "heldAt", approved_at as "approvedAt" from reconcile_holds
      where organization_id = $1::uuid order by email`,
    [organizationId],
  );
  return rows;
}

/** Records holds; returns the emails newly held (not held before). */
export async function addHolds(db: Queryable, organizationId: string, holds: { email: string; reason: string }[]): Promise<string[]> {
  if (holds.length === 0) return [];
  const { rows } = await db.query<{ email: string }>(
    `insert into reconcile_holds (organization_id, email, reason)
     select $1::uuid, h.email, h.reason from unnest($2::text[], $3::text[]) as h(email, reason)
     on conflict (organization_id, email) do nothing
     returning email`,
    [organizationId, holds.map((h) => h.email), holds.map((h) => h.reason)],
  );
  return rows.map((r) => r.email);
}

/** Emails whose held revocation an admin approved. */
export async function approvedEmails(db: Queryable, organizationId: string): Promise<Set<string>> {
  const { rows } = await db.query<{ email: string }>(
    `select email from reconcile_holds where organization_id = $1::uuid and approved_at is not null`,
    [organizationId],
  );
  return new Set(rows.map((r) => r.email));
}


/** Drops holds on emails a pass no longer wants to revoke (keep: emails still to revoke; null: drop one email). */
export async function dropHolds(db: Queryable, organizationId: string, keep: string[] | null, email?: string): Promise<void> {
  if (keep === null) await db.query(`delete from reconcile_holds where organization_id = $1::uuid and email = $2::text`, [organizationId, email]);
  else await db.query(`delete from reconcile_holds where organization_id = $1::uuid and email <> all($2::text[])`, [organizationId, keep]);
}

export async function approveHolds(db: Queryable, organizationId: string, audit?: AuditActor): Promise<number> {
  // With `audit`, one holds.approve entry (resource id: how many were approved) in the same statement.
  const { rows } = await db.query<{ n: number }>(
    `with h as (
       update reconcile_holds set approved_at = clock_timestamp() where organization_id = $1::uuid and approved_at is null returning 1
     )${audit ? `, ${auditRowsCte(`(select $1::uuid as organization_id, (select count(*) from h)::text as resource_id)`, '$2', "'holds.approve'")}` : ''}
     select count(*)::int as n from h`,
    audit ? [organizationId, audit.actor] : [organizationId],
  );
  return rows[0]!.n;
}

export async function countHolds(db: Queryable, organizationId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `select count(*)::int as n from reconcile_holds where organization_id = $1::uuid and approved_at is null`,
    [organizationId],
  );
  return rows[0].n;
}
