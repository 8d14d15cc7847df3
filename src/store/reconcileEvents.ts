// reconcile_events: one row per target operation a pass performed, held or dry-ran — the
// record behind provisioning latency, `scimsync events`, the guard's window count
// (revocationGuard.ts) and a full pass's "touched meanwhile" check. The reconciler decides
// what each row says (src/reconciler/apply.ts); these are its statements.
import type { Queryable } from './pool.js';

export type EventOperation = 'grant' | 'update' | 'revoke';

export interface EventRecord {
  organizationId: string;
  email: string;
  operation: EventOperation;
  result: string;
  role?: string | null;
  teams?: string[] | null;
  reason?: string | null;
  error?: string | null;
  changedAt?: string;
  durationMs?: number | null;
  approved?: boolean;
  worker?: string;
}

/** Inserts an event; returns the latency from changedAt to now (database clock), if any. */
export async function recordEvent(db: Queryable, e: EventRecord): Promise<number | undefined> {
  const { rows } = await db.query<{ latencyMs: number | null }>(
    `insert into reconcile_events (organization_id, email, operation, result, role, teams, reason, error, latency_ms, duration_ms, approved, worker)
     values ($1::uuid, $2::text, $3::text, $4::text, $5::text, $6::text[], $7::text, $8::text,
             extract(epoch from clock_timestamp() - $9::timestamptz) * 1000, $10::float8, $11::boolean, $12::text)
     returning latency_ms as "latencyMs"`,
    [e.organizationId, e.email, e.operation, e.result, e.role ?? null, e.teams ?? null, e.reason ?? null, e.error ?? null,
      e.changedAt ?? null, e.durationMs ?? null, e.approved ?? false, e.worker ?? null],
  );
  return rows[0].latencyMs ?? undefined;
}

/** One performed operation as recordOpResults stores it (snake_case: the jsonb record's columns). */
export interface OpResultRecord {
  /** Position in the batch: the key of the returned latencies. */
  ord: number;
  email: string;
  operation: EventOperation;
  /** 'ok' | 'error' | 'terminal' | 'requeue'. */
  result: string;
  role: string | null;
  teams: string[] | null;
  reason: string | null;
  error: string | null;
  /** Latency origin (reconcile_queue.changed_at), for an ok operation answering a change. */
  changed_at: string | null;
  /** Milliseconds since the target answered, subtracted from the latency. */
  since_ms: number;
  duration_ms: number;
  approved: boolean;
  user_id: string | null;
  /** Guard reservation (reconcile_guard_reservations.id) to release with the event. */
  reservation: string | null;
}

/**
 * Records performed operations in one statement: their events, the managed-member bookkeeping
 * (an ok revoke drops the member, an ok grant/update records it), the holds an ok revoke
 * settles and the guard reservations they release. Returns each record's latency in ms (by
 * `ord`; undefined without a latency origin), measured to the target's answer on the
 * database clock. Run it in the members' lock transaction.
 */
export async function recordOpResults(db: Queryable, organizationId: string, workerId: string, records: OpResultRecord[]): Promise<Map<number, number | undefined>> {
  const { rows } = await db.query<{ ord: number; latencyMs: number | null }>({
    name: 'scimsync-record-ops',
    text: `with r as (
             select * from jsonb_to_recordset($2::jsonb) as r(ord int, email text, operation text, result text, role text, teams text[],
               reason text, error text, changed_at timestamptz, since_ms float8, duration_ms float8, approved boolean, user_id uuid, reservation bigint)
           ),
           l as (select ord, extract(epoch from clock_timestamp() - changed_at) * 1000 - since_ms as latency_ms from r),
           ev as (
             insert into reconcile_events (organization_id, email, operation, result, role, teams, reason, error, latency_ms, duration_ms, approved, worker)
             select $1::uuid, r.email, r.operation, r.result, r.role, r.teams, r.reason, r.error, l.latency_ms, r.duration_ms, r.approved, $3::text
               from r join l using (ord) order by ord
             returning id
           ),
           unmanaged as (
             delete from reconcile_managed_members m using r
              where m.organization_id = $1::uuid and m.email = r.email and r.result = 'ok' and r.operation = 'revoke'
           ),
           managed as (
             insert into reconcile_managed_members (organization_id, email, user_id)
             select $1::uuid, email, user_id from r where result = 'ok' and operation <> 'revoke'
             on conflict (organization_id, email) do update set user_id = coalesce(excluded.user_id, reconcile_managed_members.user_id)
           ),
           unheld as (
             delete from reconcile_holds h using r
              where h.organization_id = $1::uuid and h.email = r.email and r.result = 'ok' and r.operation = 'revoke'
           ),
           released as (
             delete from reconcile_guard_reservations g using r where g.id = r.reservation
           )
           select ord, latency_ms as "latencyMs" from l`,
    values: [organizationId, JSON.stringify(records), workerId],
  });
  return new Map(rows.map((r) => [r.ord, r.latencyMs ?? undefined]));
}

/** The database clock now: the origin a full pass compares events against (appliedSince). */
export async function databaseNow(db: Queryable): Promise<string> {
  return (await db.query<{ now: string }>(`select clock_timestamp() as now`)).rows[0].now;
}

/**
 * The emails among `emails` with an operation that succeeded at or after `since` (another pass
 * wrote those members since a full pass listed the target), in one statement for a batch.
 */
export async function appliedSince(db: Queryable, organizationId: string, since: string, emails: string[]): Promise<Set<string>> {
  if (!emails.length) return new Set();
  const { rows } = await db.query<{ email: string }>(
    `select distinct email from reconcile_events
      where organization_id = $1::uuid and email = any($3::text[]) and at >= $2::timestamptz and result = 'ok'`,
    [organizationId, since, emails],
  );
  return new Set(rows.map((r) => r.email));
}

export interface EventRow {
  at: string;
  email: string;
  operation: string;
  result: string;
  role: string | null;
  reason: string | null;
  error: string | null;
  latencyMs: number | null;
  durationMs: number | null;
}

/** The newest `limit` events of an organization, newest first (`scimsync events`). */
export async function listEvents(db: Queryable, organizationId: string, limit: number): Promise<EventRow[]> {
  const { rows } = await db.query<EventRow>(
    `select at, email, operation, result, role, reason, error, latency_ms as "latencyMs", duration_ms as "durationMs"
       from reconcile_events where organization_id = $1::uuid order by at desc, id desc limit $2::int`,
    [organizationId, limit],
  );
  return rows;
}

/** Deletes events older than `retentionDays` (RECONCILER_EVENTS_RETENTION_DAYS). */
export async function pruneEvents(db: Queryable, retentionDays: number): Promise<void> {
  await db.query(`delete from reconcile_events where at < clock_timestamp() - make_interval(days => $1::int)`, [retentionDays]);
}
