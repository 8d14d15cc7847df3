// The two passes. A user item reconciles the emails of one SCIM user (reading that member
// alone from the target, so its latency does not grow with the organization); an
// organization item streams the whole organization (planStream.ts), applies the plan and
// refreshes the drift gauges.
import type { Logger } from 'pino';
import { driftMembers, lastFullSync, orgLabel, revocationsHeld } from '../metrics.js';
import type { ReconcilerStatements, ReconcilerStore } from '../store/reconcilerStore.js';
import type { WorkItem } from '../store/reconcileQueue.js';
import type { TargetResolver } from '../targets/index.js';
import type { ActualMember } from '../targets/target.js';
import { executeOp, opsOf, performOp, recordOps, type ApplyContext, type Op, type OpResult, type PerformedOp } from './apply.js';
import { diffMember, emptyPlan, planSize, type DiffPolicy, type Plan } from './diff.js';
import { claimedUserItems, loadOrganization, loadUserItems, readMembers, resolveMappedGroups, type MappedGroups, type MemberState, type Organization } from './desired.js';
import { classifyError, TerminalError, throwIfAborted, type Result } from './errors.js';
import { guardUnlimited, reserveRevocation, reserveRevocations } from './guard.js';
import type { Settled } from './settlement.js';
import { planOrganization, policyFor } from './planStream.js';

export interface ReconcileDeps {
  /** Every statement a pass runs (src/store/reconcilerStore.ts). */
  store: ReconcilerStore;
  targets: TargetResolver;
  workerId: string;
  log: Logger;
  pageSize: number;
  applyConcurrency: number;
  signal?: AbortSignal;
}

/** True when the item carries a desired-state change (not only a scheduled resync). */
export const isChange = (item: WorkItem): boolean => !item.resync || Number(item.revision) > 1;

interface PassContext extends ApplyContext {
  org: Organization;
  groups: MappedGroups;
  policy: DiffPolicy;
  /** Set when a per-user pass held a revocation (the gauge is refreshed after commit). */
  held?: boolean;
}

async function passContext(deps: ReconcileDeps, org: Organization, item: WorkItem): Promise<PassContext> {
  const target = await deps.targets.targetFor(org);
  return {
    org,
    organizationId: org.id,
    target,
    groups: await resolveMappedGroups(deps.store, org),
    policy: policyFor(org, target),
    workerId: deps.workerId,
    log: deps.log.child({ organization: org.slug, target: target.kind }),
    changedAt: isChange(item) ? item.changedAt : undefined,
    signal: deps.signal,
  };
}

/** Turns op results into the pass outcome: throw to retry, requeueAfter to poll, else done. */
function outcomeOf(results: (OpResult | undefined)[]): Result {
  const failed = results.filter((r) => r?.outcome === 'error');
  if (failed.length) {
    throw new Error(`${failed.length} target operation(s) failed; first: ${String((failed[0]?.error as Error)?.message ?? failed[0]?.error)}`);
  }
  // A 4xx (401/403 from a revoked credential, 400/422 from a contract mismatch) is not retried
  // — repeating the call cannot help — but it is a failure: the pass ends 'terminal'
  // (scimsync_reconcile_total{result="terminal"}) and the error lands in reconcile_status for
  // `scimsync plan` and the status, instead of the pass counting as a success.
  const rejected = results.filter((r) => r?.outcome === 'terminal');
  if (rejected.length) {
    throw new TerminalError(`${rejected.length} target operation(s) rejected by the target; first: ${String((rejected[0]?.error as Error)?.message ?? rejected[0]?.error)}`);
  }
  const later = results.filter((r) => r?.outcome === 'requeue').map((r) => {
    const c = classifyError(r?.error);
    return c.kind === 'requeueAfter' ? c.delayMs : 1000;
  });
  return later.length ? { requeueAfter: Math.max(...later) } : {};
}

async function holdRevocation(ctx: PassContext, db: ReconcilerStatements, ops: Op[]): Promise<void> {
  const revokes = ops.filter((o): o is Extract<Op, { kind: 'revoke' }> => o.kind === 'revoke');
  const newly = new Set(await db.addHolds(ctx.organizationId, revokes.map((r) => ({ email: r.email, reason: r.reason }))));
  for (const r of revokes) {
    if (newly.has(r.email)) {
      await db.recordEvent({ organizationId: ctx.organizationId, email: r.email, operation: 'revoke', result: 'held', reason: r.reason, worker: ctx.workerId });
    }
  }
  revocationsHeld.set({ organization: orgLabel(ctx.org.slug) }, await db.countHolds(ctx.organizationId));
}

/**
 * Reconciles one email of a user batch; its lock is held by the batch's transaction `tx`.
 * Returns the operations the target answered, for the batch to record in one statement.
 */
async function reconcileEmail(deps: ReconcileDeps, ctx: PassContext, tx: ReconcilerStatements, email: string, state: MemberState, actual: ActualMember | undefined): Promise<PerformedOp[]> {
  const { desired, hold } = state;
  const plan = emptyPlan();
  diffMember(plan, desired, actual, ctx.policy);
  const ops = opsOf(plan);
  if (hold !== 'none' && !ops.some((o) => o.kind === 'revoke')) await tx.dropHolds(ctx.organizationId, null, email);
  const performed: PerformedOp[] = [];
  for (const op of ops) {
    if (ctx.org.spec.dryRun) {
      await tx.recordEvent({ organizationId: ctx.organizationId, email, operation: op.kind, result: 'dry-run', worker: ctx.workerId });
      continue;
    }
    let reservation: string | undefined;
    if (op.kind === 'revoke') op.approved = hold === 'approved';
    const guard = ctx.org.spec.revocationGuard;
    if (op.kind === 'revoke' && !op.approved && !guardUnlimited(guard)) {
      // Concurrent user items (and replicas) would all see the same window count and
      // overshoot the limit together: reserve the quota under the organization's guard lock,
      // in a short transaction of its own, so that lock is never held across the target call
      // (held across it, it serialised every revocation of the organization). executeOp
      // releases the reservation with the revocation's event, in this transaction; if this
      // transaction rolls back after the target call, it keeps counting (the safe side).
      const r = await reserveRevocation(deps.store, ctx.organizationId, guard, await tx.memberCount(ctx.organizationId), email);
      if (r.decision.hold) {
        // Counts at info/warn; the member's email only at debug (no personal data in logs at info).
        ctx.log.warn({ held: 1, ...r.decision }, 'revocation held by the revocation guard; `scimsync approve` releases it');
        ctx.log.debug({ email }, 'revocation held');
        await holdRevocation(ctx, tx, [op]);
        ctx.held = true;
        continue;
      }
      reservation = r.id;
    }
    performed.push(await performOp(ctx, op, desired?.userId, reservation));
  }
  return performed;
}


/**
 * Reconciles a batch of per-user items of one organization in one transaction holding the
 * locks of all their emails: one round trip each to load the items, lock, read desired state
 * and complete the items, whatever the batch's size; the target is read and written for all
 * members at once. Under a deprovisioning wave (docs/benchmarks.md, scenario 6) items arrive
 * faster than a round trip per step per item allows on a busy machine; idle, a batch is one item.
 * A failing member fails only the items it belongs to.
 */
export async function reconcileUserItems(deps: ReconcileDeps, items: WorkItem[]): Promise<Settled[]> {
  throwIfAborted(deps.signal);
  const claimed = claimedUserItems(items);
  const loaded = claimed === null ? await loadUserItems(deps.store, items[0].organizationId, items.map((i) => i.userId!)) : claimed;
  const emailsOf = (item: WorkItem) => loaded?.emails.get(item.userId!) ?? [];
  const all = [...new Set(items.flatMap(emailsOf))];
  if (!loaded || all.length === 0) return items.map((item) => ({ item, result: {} }));
  const base = await passContext(deps, loaded.org, items[0]);
  // The latency origin of an email: the earliest change among the items that concern it.
  const changedAt = new Map<string, string>();
  for (const item of items) {
    if (!isChange(item)) continue;
    for (const e of emailsOf(item)) if (!changedAt.has(e) || item.changedAt < changedAt.get(e)!) changedAt.set(e, item.changedAt);
  }
  const outcomes = new Map<string, { results: OpResult[] } | { error: unknown }>();
  const completed = new Set<WorkItem>();
  await deps.store.withMembersLock(base.organizationId, all, async (tx) => {
    // The target is read under the locks (so no other pass writes these members meanwhile),
    // concurrently with the desired state rather than after it.
    const actuals = new Map(all.map((email) => [email, base.target.get(email, deps.signal).then((actual) => ({ actual }), (error: unknown) => ({ error }))]));
    const states = await readMembers(tx, base.org, base.groups, all);
    // The emails' target calls run concurrently, their statements on the one transaction in turn.
    const performed = new Map<string, PerformedOp[]>();
    await Promise.all(
      all.map(async (email) => {
        try {
          const got = await actuals.get(email)!;
          if ('error' in got) throw got.error;
          const actual = got.actual;
          const ctx: PassContext = { ...base, changedAt: changedAt.get(email) };
          performed.set(email, await reconcileEmail(deps, ctx, tx, email, states.get(email)!, actual));
          if (ctx.held) base.held = true;
        } catch (error) {
          outcomes.set(email, { error });
        }
      }),
    );
    const keys = [...performed].flatMap(([email, ds]) => ds.map(() => email));
    const results = await recordOps(base, tx, [...performed.values()].flat());
    for (const email of performed.keys()) outcomes.set(email, { results: results.filter((_, i) => keys[i] === email) });
    // Items done without a retry leave the queue with their events (one commit).
    const done = items.filter((item) => emailsOf(item).every((e) => {
      const o = outcomes.get(e);
      return o && 'results' in o && !o.results.some((r) => r.outcome === 'error' || r.outcome === 'requeue');
    }));
    await tx.completeItems(done, deps.workerId);
    for (const item of done) completed.add(item);
  });
  // Concurrent batches each see only their own uncommitted holds: count again once committed.
  if (base.held) revocationsHeld.set({ organization: orgLabel(base.org.slug) }, await deps.store.countHolds(base.organizationId));
  return items.map((item): Settled => {
    const failed = emailsOf(item).map((e) => outcomes.get(e)).find((o) => o && 'error' in o);
    if (failed && 'error' in failed) return { item, error: failed.error };
    try {
      const results = emailsOf(item).flatMap((e) => (outcomes.get(e) as { results: OpResult[] }).results);
      return { item, result: { ...outcomeOf(results), completed: completed.has(item) } };
    } catch (error) {
      return { item, error };
    }
  });
}

/**
 * Applies a batch of planned ops (one per email; a full pass sends `deps.applyConcurrency` at
 * a time) after re-reading those members' desired state under their locks, in one
 * transaction: one statement each to lock, read the desired state, find members written since
 * the pass began, and record the results, whatever the batch's size (one op per transaction
 * took 7 round trips per op: 2.2 ms of each of a 1% drift's 1,001 grants). The locks are held
 * for one round of target calls, as long as one op's lock was, so a per-user pass waiting for
 * one of these members waits no longer than it did. If a member's desired state changed since
 * the plan was computed, its op is skipped — the change's own user item applies it — so a
 * long pass never overwrites a newer decision with a stale one.
 * Returns one result per op, undefined for an op skipped.
 */
async function applyPlanned(deps: ReconcileDeps, ctx: PassContext, ops: Op[], passStart: string, reserved?: Map<string, string>): Promise<(OpResult | undefined)[]> {
  throwIfAborted(deps.signal);
  const emails = ops.map((op) => op.email);
  return deps.store.withMembersLock(ctx.organizationId, emails, async (tx) => {
    const states = await readMembers(tx, ctx.org, ctx.groups, emails);
    // The listed state is stale for a member another pass wrote since this pass began: read it
    // again then (rare), so the two passes do not both grant.
    const touched = await tx.appliedSince(ctx.organizationId, passStart, emails);
    // A failure reading the target fails that op alone; a shutdown stops the ops not yet sent,
    // and those the target answered are still recorded (the caller then stops the pass).
    const settled = await Promise.all(ops.map(async (op): Promise<{ done?: PerformedOp; error?: unknown }> => {
      try {
        const desired = states.get(op.email)?.desired;
        const listed: ActualMember | undefined = op.kind === 'grant' ? undefined : op.kind === 'update' ? op.from : { email: op.email, role: '', teams: [] };
        const snapshot = touched.has(op.email) ? await ctx.target.get(op.email, deps.signal) : listed;
        const plan = emptyPlan();
        diffMember(plan, desired, snapshot, ctx.policy);
        const fresh = opsOf(plan)[0];
        if (!fresh || fresh.kind !== op.kind) return {};
        if (fresh.kind === 'revoke' && op.kind === 'revoke') fresh.approved = op.approved;
        return { done: await performOp(ctx, fresh, desired?.userId, fresh.kind === 'revoke' && !fresh.approved ? reserved?.get(op.email) : undefined) };
      } catch (error) {
        return { error };
      }
    }));
    const done = settled.flatMap((x) => (x.done ? [x.done] : []));
    const results = await recordOps(ctx, tx, done);
    const byOp = new Map(done.map((d, i) => [d, results[i]]));
    return settled.map((x): OpResult | undefined => (x.done ? byOp.get(x.done) : x.error !== undefined ? { outcome: 'error', error: x.error } : undefined));
  });
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

/** Counts of a plan: what is logged at info (no member emails at info). */
export function planCounts(plan: Plan, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...extra,
    grants: plan.grants.length,
    updates: plan.updates.length,
    revocations: plan.revocations.length,
    unmanaged: plan.unmanaged.length,
    protectedKept: plan.protectedKept.length,
  };
}

/** Up to 20 emails per kind: kept in reconcile_status.last_plan for `scimsync plan`, logged only at debug. */
function planSample(plan: Plan): Record<string, string[]> {
  const sample = (xs: string[]) => xs.slice(0, 20);
  return {
    grants: sample(plan.grants.map((g) => g.email)),
    updates: sample(plan.updates.map((u) => u.member.email)),
    revocations: sample(plan.revocations.map((r) => r.email)),
    unmanaged: sample(plan.unmanaged.map((u) => u.email)),
  };
}

/** Counts plus the sample of emails: the shape stored in reconcile_status.last_plan. */
export function planSummary(plan: Plan, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...planCounts(plan, extra), sample: planSample(plan) };
}

/** Members differing at a full pass, by the kinds of scimsync_drift_members (docs/metrics.md). */
export function driftOf(plan: Plan): Record<'missing' | 'extra' | 'changed' | 'unmanaged', number> {
  return {
    missing: plan.grants.length,
    extra: plan.revocations.filter((r) => r.reason === 'deprovisioned').length + plan.protectedKept.length,
    changed: plan.updates.length,
    unmanaged: plan.unmanaged.length,
  };
}

/** Sets the drift gauges at once; /metrics re-reads them from last_plan.drift at scrape time (organizationStates, src/store/reconcileStatus.ts). */
function setDrift(slug: string, plan: Plan): Record<string, number> {
  const drift = driftOf(plan);
  for (const [kind, n] of Object.entries(drift)) driftMembers.set({ organization: orgLabel(slug), kind }, n);
  return drift;
}

async function recordFullSync(db: ReconcilerStatements, org: Organization, seconds: number, members: number, summary: Record<string, unknown>): Promise<void> {
  await db.recordFullSync(org.id, org.spec.resyncInterval, seconds, members, summary);
  lastFullSync.set({ organization: orgLabel(org.slug) }, Date.now() / 1000);
}

export async function reconcileOrganizationItem(deps: ReconcileDeps, item: WorkItem): Promise<Result> {
  const started = performance.now();
  const org = await loadOrganization(deps.store, item.organizationId);
  if (!org) return {};
  const ctx = await passContext(deps, org, item);
  const passStart = await deps.store.databaseNow();
  const { plan, actualCount } = await planOrganization(deps.store, org, ctx.groups, ctx.target, deps.pageSize, deps.signal);
  const drift = setDrift(org.slug, plan);
  if (org.spec.dryRun) {
    if (planSize(plan)) {
      ctx.log.info(planCounts(plan), 'dry run: plan recorded, nothing applied');
      ctx.log.debug({ sample: planSample(plan) }, 'dry run: sample of the plan');
    }
    await recordFullSync(deps.store, org, (performance.now() - started) / 1000, actualCount, planSummary(plan, { dryRun: true, drift }));
    return {};
  }
  const approved = await deps.store.approvedEmails(org.id);
  let ops = opsOf(plan).map((op) => (op.kind === 'revoke' && approved.has(op.email) ? { ...op, approved: true } : op));
  const unapproved = ops.filter((op) => op.kind === 'revoke' && !op.approved);
  const guard = org.spec.revocationGuard;
  // Reserve the pass's unapproved revocations under the guard lock, as per-user passes do.
  const { decision, ids: reserved } = await reserveRevocations(deps.store, org.id, guard, actualCount, guardUnlimited(guard) ? [] : unapproved.map((op) => op.email));
  await deps.store.dropHolds(org.id, plan.revocations.map((r) => r.email));
  if (decision.hold) {
    ctx.log.warn({ held: unapproved.length, ...decision }, 'revocations held by the revocation guard; `scimsync approve` releases them');
    await holdRevocation(ctx, deps.store, unapproved);
    ops = ops.filter((op) => op.kind !== 'revoke' || op.approved);
  } else revocationsHeld.set({ organization: orgLabel(org.slug) }, await deps.store.countHolds(org.id));
  let results: (OpResult | undefined)[];
  try {
    results = [];
    // Batches of applyConcurrency, one after another: lanes of smaller batches measured slower
    // (1% drift of 100,000: 1.9 s in batches of 8, 2.2 s in two lanes of 4, 3.0 s in four of 2),
    // and larger batches hold their locks across more than one round of target calls.
    for (let i = 0; i < ops.length; i += deps.applyConcurrency) {
      results.push(...(await applyPlanned(deps, ctx, ops.slice(i, i + deps.applyConcurrency), passStart, reserved)));
      throwIfAborted(deps.signal);
    }
  } finally {
    // Reservations of ops that were skipped or never ran (consumed ones are gone already).
    await deps.store.releaseReservations([...(reserved?.values() ?? [])]);
  }
  const summary = planSummary(plan, { held: decision.hold ? unapproved.length : 0, guardLimit: decision.limit, drift });
  await recordFullSync(deps.store, org, (performance.now() - started) / 1000, actualCount, summary);
  if (planSize(plan)) {
    ctx.log.info(planCounts(plan, { held: decision.hold ? unapproved.length : 0, guardLimit: decision.limit }), 'organization reconciled');
    ctx.log.debug({ sample: planSample(plan) }, 'organization reconciled: sample of the plan');
  }
  return outcomeOf(results);
}
