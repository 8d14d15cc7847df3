// Applying a plan: one operation at a time per member, under a per-member advisory lock held
// in a short transaction (src/store/memberLocks.ts), so a per-user pass and a full pass (or two
// replicas) never write the same member concurrently. Every operation is recorded in
// reconcile_events.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { provisioningLatency } from '../metrics.js';
import type { OpResultRecord } from '../store/reconcileEvents.js';
import type { ReconcilerStatements } from '../store/reconcilerStore.js';
import type { ActualMember, MemberSpec, Target } from '../targets/target.js';
import type { Plan, RevocationReason } from './diff.js';
import { classifyError, throwIfAborted } from './errors.js';

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
  /** Aborts target calls (shutdown): an aborted operation throws AbortedError. */
  signal?: AbortSignal;
}

/** An operation's recorded result (reconcile_events.result) for a target error: classifyError's verdict. */
const OUTCOME_OF = { terminal: 'terminal', requeueAfter: 'requeue', retry: 'error' } as const satisfies Record<ReturnType<typeof classifyError>['kind'], OpOutcome>;
const classify = (err: unknown): OpOutcome => OUTCOME_OF[classifyError(err).kind];

/** An operation the target has answered, not yet recorded. */
export interface PerformedOp {
  op: Op;
  outcome: OpOutcome;
  error?: unknown;
  durationMs: number;
  /** performance.now() when the target answered. */
  answeredAt: number;
  /** The desired-state change it answers (its latency origin), if any. */
  changedAt?: string;
  userId?: string;
  /** Guard reservation to release with the event (whatever the outcome: a failed revocation used no quota). */
  reservationId?: string;
}

/** Performs one operation against the target. Target errors are returned, not thrown. */
export async function performOp(ctx: ApplyContext, op: Op, userId?: string, reservationId?: string): Promise<PerformedOp> {
  const started = performance.now();
  throwIfAborted(ctx.signal);
  const w = { idempotencyKey: randomUUID(), signal: ctx.signal };
  let error: unknown;
  try {
    if (op.kind === 'grant') await ctx.target.grant(op.member, w);
    else if (op.kind === 'update') await ctx.target.update(op.member, w);
    else await ctx.target.revoke(op.email, w);
  } catch (err) {
    // Shutdown cut the call short: the operation is not done, nor failed; the item is released.
    throwIfAborted(ctx.signal);
    error = err;
  }
  const answeredAt = performance.now();
  const outcome: OpOutcome = error === undefined ? 'ok' : classify(error);
  return { op, outcome, error, durationMs: answeredAt - started, answeredAt, changedAt: ctx.changedAt, userId, reservationId };
}

/**
 * Records performed operations (inside the members' lock transaction `tx`) in one
 * statement (recordOpResults, src/store/reconcileEvents.ts): their events, the managed-member
 * bookkeeping, the holds they settle and the guard reservations they release. Latency is
 * measured to the target's answer on the database clock (the time since the answer, measured
 * here, is subtracted); it is observed and failures are logged here.
 */
export async function recordOps(ctx: ApplyContext, tx: ReconcilerStatements, done: PerformedOp[]): Promise<OpResult[]> {
  if (done.length === 0) return [];
  const now = performance.now();
  const records = done.map((d, ord): OpResultRecord => {
    const member = d.op.kind === 'revoke' ? undefined : d.op.member;
    return {
      ord,
      email: d.op.email,
      operation: d.op.kind,
      result: d.outcome,
      role: member?.role ?? null,
      teams: member?.teams ?? null,
      reason: d.op.kind === 'revoke' ? d.op.reason : null,
      error: d.error === undefined ? null : String((d.error as Error)?.message ?? d.error),
      changed_at: d.outcome === 'ok' ? (d.changedAt ?? null) : null,
      since_ms: now - d.answeredAt,
      duration_ms: d.durationMs,
      approved: d.op.kind === 'revoke' && d.op.approved === true,
      user_id: d.userId ?? null,
      reservation: d.reservationId ?? null,
    };
  });
  const latency = await tx.recordOpResults(ctx.organizationId, ctx.workerId, records);
  return done.map((d, ord): OpResult => {
    if (d.outcome !== 'ok') {
      // No email at warn (personal data only at debug); the event row names the member.
      ctx.log.warn({ operation: d.op.kind, outcome: d.outcome, err: d.error }, 'target operation failed');
      ctx.log.debug({ email: d.op.email, operation: d.op.kind }, 'target operation failed for this member');
      return { outcome: d.outcome, error: d.error };
    }
    const latencyMs = latency.get(ord);
    if (latencyMs !== undefined) provisioningLatency.observe({ operation: d.op.kind }, latencyMs / 1000);
    ctx.log.debug({ email: d.op.email, operation: d.op.kind, latencyMs, durationMs: d.durationMs }, 'applied');
    return { outcome: d.outcome, latencyMs };
  });
}

/**
 * Performs one operation against the target and records it (inside the member's lock
 * transaction `tx`), releasing the guard reservation `reservationId` if one was taken.
 * Target errors are returned, not thrown: the caller decides whether the pass goes on.
 */
export async function executeOp(ctx: ApplyContext, tx: ReconcilerStatements, userId: string | undefined, op: Op, reservationId?: string): Promise<OpResult> {
  const [result] = await recordOps(ctx, tx, [await performOp(ctx, op, userId, reservationId)]);
  return result;
}
