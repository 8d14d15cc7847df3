// Applying a plan: one operation at a time per member, under a per-member advisory lock held
// in a short transaction, so a per-user pass and a full pass (or two replicas) never write the
// same member concurrently. Every operation is recorded in reconcile_events.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { provisioningLatency } from '../metrics.js';
import { withTransaction, type Pool, type PoolClient, type Queryable } from '../store/pool.js';
import { TargetRejectedError, TargetRetryLaterError, type ActualMember, type MemberSpec, type Target } from '../targets/target.js';
import type { Plan, RevocationReason } from './diff.js';

export type Op =
  | { kind: 'grant'; email: string; member: MemberSpec }
  | { kind: 'update'; email: string; member: MemberSpec; from: ActualMember }
  | { kind: 'revoke'; email: string; reason: RevocationReason; approved?: boolean };

export function opsOf(plan: Plan): Op[] {
  return [
    ...plan.grants.map((m): Op => ({ kind: 'grant', email: m.email, member: m })),
    ...plan.updates.map((u): Op => ({ kind: 'update', email: u.member.email, member: u.member, from: u.from })),
    ...plan.revocations.map((r): Op => ({ kind: 'revoke', email: r.email, reason: r.reason })),
  ];
}

export type OpOutcome = 'ok' | 'error' | 'terminal' | 'requeue';

export interface OpResult {
  outcome: OpOutcome;
  error?: unknown;
  /** Latency origin → confirmation, when the op answers a desired-state change. */
  latencyMs?: number;
}

export interface ApplyContext {
  organizationId: string;
  target: Target;
  workerId: string;
  log: Logger;
  /** reconcile_queue.changed_at of the item, when it carries a desired-state change. */
  changedAt?: string;
}

/** Runs fn in a transaction holding the member's advisory lock (released at commit/rollback). */
export async function withMemberLock<T>(pool: Pool, organizationId: string, email: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (client) => {
    await client.query({ name: 'scimsync-member-lock', text: `select pg_advisory_xact_lock(hashtextextended($1::text, 0))`, values: [`scimsync:${organizationId}:${email}`] });
    return fn(client);
  });
}

/**
 * Runs fn in one transaction holding the advisory locks of all the emails (the keys of
 * withMemberLock), taken in one statement in sorted order so two batches never deadlock.
 */
export async function withMembersLock<T>(pool: Pool, organizationId: string, emails: string[], fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (client) => {
    await client.query({
      name: 'scimsync-members-lock',
      text: `select count(pg_advisory_xact_lock(hashtextextended('scimsync:' || $1::text || ':' || s.email, 0)))
               from (select distinct email from unnest($2::text[]) as e(email) order by email) s`,
      values: [organizationId, emails],
    });
    return fn(client);
  });
}

export interface EventRecord {
  organizationId: string;
  email: string;
  operation: Op['kind'];
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

const classify = (err: unknown): OpOutcome =>
  err instanceof TargetRejectedError ? 'terminal' : err instanceof TargetRetryLaterError ? 'requeue' : 'error';

/**
 * Performs one operation against the target and records it (inside the member's lock
 * transaction `client`), releasing the guard reservation `reservationId` if one was taken. Target errors are returned, not thrown: the caller decides whether
 * the pass goes on.
 */
export async function executeOp(ctx: ApplyContext, client: PoolClient, userId: string | undefined, op: Op, reservationId?: string): Promise<OpResult> {
  const started = performance.now();
  const w = { idempotencyKey: randomUUID() };
  let error: unknown;
  try {
    if (op.kind === 'grant') await ctx.target.grant(op.member, w);
    else if (op.kind === 'update') await ctx.target.update(op.member, w);
    else await ctx.target.revoke(op.email, w);
  } catch (err) {
    error = err;
  }
  const durationMs = performance.now() - started;
  const outcome: OpOutcome = error === undefined ? 'ok' : classify(error);
  const member = op.kind === 'revoke' ? undefined : op.member;
  // The event, the managed-member bookkeeping, the hold and the guard reservation (released
  // whatever the outcome: a failed revocation used no quota) in one statement.
  const { rows } = await client.query<{ latencyMs: number | null }>({ name: 'scimsync-record-op', text: `with ev as (
       insert into reconcile_events (organization_id, email, operation, result, role, teams, reason, error, latency_ms, duration_ms, approved, worker)
       values ($1::uuid, $2::text, $3::text, $4::text, $5::text, $6::text[], $7::text, $8::text,
               extract(epoch from clock_timestamp() - $9::timestamptz) * 1000, $10::float8, $11::boolean, $12::text)
       returning latency_ms
     ),
     unmanaged as (
       delete from reconcile_managed_members
        where organization_id = $1::uuid and email = $2::text and $4::text = 'ok' and $3::text = 'revoke'
     ),
     managed as (
       insert into reconcile_managed_members (organization_id, email, user_id)
       select $1::uuid, $2::text, $13::uuid where $4::text = 'ok' and $3::text <> 'revoke'
       on conflict (organization_id, email) do update set user_id = coalesce(excluded.user_id, reconcile_managed_members.user_id)
     ),
     unheld as (
       delete from reconcile_holds where organization_id = $1::uuid and email = $2::text and $4::text = 'ok' and $3::text = 'revoke'
     ),
     released as (
       delete from reconcile_guard_reservations where id = $14::bigint
     )
     select latency_ms as "latencyMs" from ev`, values: [ctx.organizationId, op.email, op.kind, outcome, member?.role ?? null, member?.teams ?? null, op.kind === 'revoke' ? op.reason : null,
      error === undefined ? null : String((error as Error)?.message ?? error), outcome === 'ok' ? (ctx.changedAt ?? null) : null,
      durationMs, op.kind === 'revoke' && op.approved === true, ctx.workerId, userId ?? null, reservationId ?? null] });
  const latencyMs = rows[0].latencyMs ?? undefined;
  if (outcome !== 'ok') {
    ctx.log.warn({ email: op.email, operation: op.kind, outcome, err: error }, 'target operation failed');
    return { outcome, error };
  }
  if (latencyMs !== undefined) provisioningLatency.observe({ operation: op.kind }, latencyMs / 1000);
  ctx.log.debug({ email: op.email, operation: op.kind, latencyMs, durationMs }, 'applied');
  return { outcome, latencyMs };
}
