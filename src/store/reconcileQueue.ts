// The work queue (reconcile_queue): rows are keys, never payloads.
// - Marking (DESIGN.md: write and enqueue in one transaction): the SCIM store calls
//   markForReconcile inside the transaction of every write to users, groups or memberships;
//   pg_notify is transactional, so workers are woken only once the change commits. The
//   one-statement writes (createUser, the optimistic user write, the lone group write)
//   coalesce their NOTIFYs per organization instead (wakeups.ts).
// - Claiming: FOR UPDATE SKIP LOCKED, so replicas share work without a leader; a claim is a
//   lease kept alive by heartbeats, so a crashed worker's items are claimed again once it
//   expires. The reconciler's loop (src/reconciler/worker.ts) decides what to claim and how
//   each item ends; these are its statements.
import { prepared, type PoolClient, type Queryable } from './pool.js';

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

export interface WorkItem {
  id: string;
  organizationId: string;
  /** null: the whole organization. */
  userId: string | null;
  /** Earliest unreconciled desired-state change (the latency origin). */
  changedAt: string;
  revision: string;
  attempts: number;
  resync: boolean;
  /** When this worker claimed it. */
  lockedAt: string;
  /**
   * Per-user items: what the pass would otherwise load in a round trip of its own, read by the
   * claim statement (organization row, null if it is gone or deleted; every email the item concerns).
   */
  org?: { id: string; slug: string; spec: Record<string, unknown> } | null;
  emails?: string[];
}

/**
 * Claims up to `users` per-user items and `organizations` organization items in one statement
 * (one round trip per claim: at 400 items/s every query counts, see docs/benchmarks.md, 6).
 * The hot statements of a per-user pass are named, so each connection parses and plans them
 * once: Postgres CPU per item fell from 1.75 to 0.9 ms when draining 4,000 queued grants.
 */
export async function claimItems(db: Queryable, workerId: string, limits: { users: number; organizations: number }, leaseMs: number): Promise<WorkItem[]> {
  const users = Math.max(0, limits.users);
  const organizations = Math.max(0, limits.organizations);
  if (users + organizations === 0) return [];
  const due = `run_at <= clock_timestamp()
          and (locked_at is null or locked_at < clock_timestamp() - make_interval(secs => $4::double precision / 1000))`;
  const { rows } = await db.query<WorkItem>({ name: 'scimsync-claim', text: `with u as (
       select id from reconcile_queue where ${due} and user_id is not null
        order by run_at, id limit $2::int for update skip locked
     ),
     o as (
       select id from reconcile_queue where ${due} and user_id is null
        order by run_at, id limit $3::int for update skip locked
     )
     update reconcile_queue q
        set locked_by = $1::text, locked_at = clock_timestamp(), attempts = q.attempts + 1
      where q.id in (select id from u union all select id from o)
     returning q.id, q.organization_id as "organizationId", q.user_id as "userId", q.changed_at as "changedAt",
               -- A per-user item's revision is the one its org/emails were read with (the statement's
               -- snapshot): a change committed after the snapshot but before the row lock (followed by
               -- the update) must leave the item queued, not be completed unseen ('0' never matches).
               case when q.user_id is null then q.revision
                    else coalesce((select r.revision from reconcile_queue r where r.id = q.id), 0) end as revision,
               q.attempts, q.resync, q.locked_at as "lockedAt",
               case when q.user_id is not null then
                 (select json_build_object('id', o.id, 'slug', o.slug, 'spec', o.spec) from organizations o where o.id = q.organization_id and o.deleted_at is null) end as org,
               case when q.user_id is not null then
                 array(select lower(user_name) collate "C" from scim_users where id = q.user_id and organization_id = q.organization_id
                       union
                       select email from reconcile_managed_members where user_id = q.user_id and organization_id = q.organization_id) end as emails`, values: [workerId, users, organizations, leaseMs] });
  return rows;
}

/**
 * Finishes an item: deleted if no new change arrived since the claim (same revision); else
 * unlocked to run again at once, its latency origin moved to the claim (changes committed
 * before the claim were seen by this pass).
 */
export async function completeItem(db: Queryable, item: WorkItem, workerId: string): Promise<void> {
  await db.query({ name: 'scimsync-complete', text: `with d as (
       delete from reconcile_queue where id = $1::bigint and revision = $2::bigint and locked_by = $3::text returning 1
     )
     update reconcile_queue
        set locked_by = null, locked_at = null, last_error = null, resync = false,
            changed_at = greatest(changed_at, $4::timestamptz)
      where id = $1::bigint and locked_by = $3::text and not exists (select 1 from d)`, values: [item.id, item.revision, workerId, item.lockedAt] });
}

/** completeItem for several items in one statement (a batch of user items). */
export async function completeItems(db: Queryable, items: WorkItem[], workerId: string): Promise<void> {
  if (items.length === 0) return;
  await db.query({
    name: 'scimsync-complete-items',
    text: `with i as (
             select * from unnest($1::bigint[], $2::bigint[], $4::timestamptz[]) as i(id, revision, claimed_at)
           ),
           d as (
             delete from reconcile_queue q using i
              where q.id = i.id and q.revision = i.revision and q.locked_by = $3::text returning q.id
           )
           update reconcile_queue q
              set locked_by = null, locked_at = null, last_error = null, resync = false,
                  changed_at = greatest(q.changed_at, i.claimed_at)
             from i
            where q.id = i.id and q.locked_by = $3::text and q.id not in (select id from d)`,
    values: [items.map((i) => i.id), items.map((i) => i.revision), workerId, items.map((i) => i.lockedAt)],
  });
}

/** Unlocks an item to run again after delayMs (unless a newer change asks for it now). */
export async function retryItem(db: Queryable, item: WorkItem, workerId: string, delayMs: number, error: string | null): Promise<void> {
  await db.query(
    `update reconcile_queue
        set locked_by = null, locked_at = null, last_error = $5::text,
            run_at = case when revision = $2::bigint then clock_timestamp() + make_interval(secs => $4::double precision / 1000) else run_at end,
            changed_at = case when revision = $2::bigint then changed_at else greatest(changed_at, $6::timestamptz) end
      where id = $1::bigint and locked_by = $3::text`,
    [item.id, item.revision, workerId, delayMs, error, item.lockedAt],
  );
}

/** Gives an unfinished item back (shutdown): the claim does not count as an attempt. */
export async function releaseItem(db: Queryable, item: WorkItem, workerId: string): Promise<void> {
  await db.query(
    `update reconcile_queue set locked_by = null, locked_at = null, attempts = greatest(attempts - 1, 0)
      where id = $1::bigint and locked_by = $2::text`,
    [item.id, workerId],
  );
}

export async function heartbeat(db: Queryable, workerId: string, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(`update reconcile_queue set locked_at = clock_timestamp() where locked_by = $1::text and id = any($2::bigint[])`, [workerId, ids]);
}

/**
 * Queues a full pass for every organization whose resync is due (new organizations at once).
 * Deleted organizations (organizations.deleted_at) are not provisioned: none is queued.
 */
export async function scheduleResyncs(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(
    `with fresh as (
       insert into reconcile_status (organization_id)
       select o.id from organizations o
        where o.deleted_at is null and not exists (select 1 from reconcile_status s where s.organization_id = o.id)
       on conflict do nothing
       returning organization_id, next_resync_at
     )
     insert into reconcile_queue (organization_id, user_id, resync)
     select organization_id, null, true
       from (select organization_id, next_resync_at from reconcile_status union all select * from fresh) due
      where next_resync_at <= clock_timestamp()
        and exists (select 1 from organizations o where o.id = due.organization_id and o.deleted_at is null)
     on conflict (organization_id, coalesce(user_id, '00000000-0000-0000-0000-000000000000'::uuid)) do nothing`,
  );
  return rowCount ?? 0;
}

/** Queues a whole-organization pass that runs at once (approve, CLI). */
export async function markOrganization(db: Queryable, organizationId: string): Promise<void> {
  await db.query(
    `insert into reconcile_queue (organization_id, user_id) values ($1::uuid, null)
     on conflict (organization_id, coalesce(user_id, '00000000-0000-0000-0000-000000000000'::uuid))
     do update set revision = reconcile_queue.revision + 1, run_at = least(reconcile_queue.run_at, excluded.run_at), attempts = 0`,
    [organizationId],
  );
  await db.query(`select pg_notify('scimsync_reconcile', $1::text)`, [organizationId]);
}

export interface QueueStats {
  depth: number;
  oldestSeconds: number;
  failing: number;
}

export async function queueStats(db: Queryable, failingAfter: number): Promise<QueueStats> {
  const { rows } = await db.query<QueueStats>(
    `select count(*)::int as depth,
            coalesce(extract(epoch from clock_timestamp() - min(changed_at) filter (where not resync)), 0)::float8 as "oldestSeconds",
            (count(*) filter (where attempts >= $1::int and last_error is not null))::int as failing
       from reconcile_queue`,
    [failingAfter],
  );
  return rows[0];
}

export interface FailingItem {
  userId: string | null;
  attempts: number;
  lastError: string | null;
  runAt: string;
}

export async function failingItems(db: Queryable, organizationId: string): Promise<FailingItem[]> {
  const { rows } = await db.query<FailingItem>(
    `select user_id as "userId", attempts, last_error as "lastError", run_at as "runAt"
       from reconcile_queue where organization_id = $1::uuid and last_error is not null order by run_at limit 100`,
    [organizationId],
  );
  return rows;
}
