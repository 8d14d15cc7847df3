// The revocation guard: a pass may revoke at most max(maxCount, ceil(maxFraction × members))
// members per sliding window (revocations already applied in the window count, approved ones
// do not). Per-user passes and full passes share the window, so a mass deprovisioning that
// arrives as thousands of single-user SCIM writes is held as surely as one big diff.
// The limit and the decision live here; the window count, the reservations
// (src/store/revocationGuard.ts) and the holds (src/store/revocationHolds.ts) are the store's.
import type { ResolvedScimConfigSpec } from '../orgs/scimConfig.js';
import type { ReconcilerStore } from '../store/reconcilerStore.js';

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
export async function reserveRevocation(store: Pick<ReconcilerStore, 'reserveRevocation'>, organizationId: string, guard: GuardSpec, members: number, email: string): Promise<Reservation> {
  const r = await store.reserveRevocation(organizationId, guard.window, revocationLimit(guard, members), email);
  const decision = decideGuard(guard, members, r.used, 1);
  return r.id === undefined ? { decision: { ...decision, hold: true } } : { decision, id: r.id };
}

/**
 * A full pass's counterpart of reserveRevocation: reserves all `emails` at once, or none.
 * Under the same guard lock and window count as per-user passes, so a full pass and per-user
 * passes on any replica together never exceed the limit (before, a full pass decided from an
 * unlocked count and reserved nothing: with per-user passes revoking meanwhile the window
 * could take about twice its limit). All or none: a pass whose revocations do not fit holds
 * them all, as before. Returns the reservation id per email when they fit.
 */
export async function reserveRevocations(store: Pick<ReconcilerStore, 'reserveRevocations'>, organizationId: string, guard: GuardSpec, members: number, emails: string[]): Promise<{ decision: GuardDecision; ids?: Map<string, string> }> {
  const r = await store.reserveRevocations(organizationId, guard.window, revocationLimit(guard, members), emails);
  // The store reserved exactly when this decision does not hold (used + emails.length ≤ limit).
  const decision = decideGuard(guard, members, r.used, emails.length);
  return r.ids ? { decision, ids: r.ids } : { decision };
}
