// reconcile_holds: revocations the revocation guard held, until an admin approves them
// (`scimsync approve`, the scimsync.io/approve-revocations annotation) or a pass no longer
// wants them. An approved hold lets the next pass revoke that member past the guard.
import { auditRowsCte, type AuditActor } from './audit.js';
import type { Queryable } from './pool.js';

export interface Hold {
  email: string;
  reason: string;
  heldAt: string;
  approvedAt: string | null;
}

/** The organization's holds, approved or not, by email. */
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

/** Approves every unapproved hold of the organization; returns how many. */
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

/** Holds not yet approved (scimsync_revocations_held). */
export async function countHolds(db: Queryable, organizationId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `select count(*)::int as n from reconcile_holds where organization_id = $1::uuid and approved_at is null`,
    [organizationId],
  );
  return rows[0].n;
}
