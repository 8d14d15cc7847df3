// Plan, then apply (STYLE.md §3): diff() compares desired and actual members and returns a
// Plan; it does no I/O. The same per-email rule (diffMember) serves the in-memory diff used by
// tests and per-user passes and the streaming merge-join of a full resync (planStream.ts).
import { compareEmails, type ActualMember, type MemberSpec } from '../targets/target.js';

/**
 * What the desired state says about one email. `member` is set when the email should be a
 * member; an entry without it is *managed* (a SCIM user exists or existed: inactive, deleted,
 * outside the mapped groups, or renamed away) and must be revoked.
 */
export interface DesiredEntry {
  email: string;
  member?: MemberSpec;
  userId?: string;
}

export type RevocationReason = 'deprovisioned' | 'unmanaged';

export interface Update {
  member: MemberSpec;
  from: ActualMember;
}

export interface Revocation {
  email: string;
  reason: RevocationReason;
}

export interface Plan {
  grants: MemberSpec[];
  updates: Update[];
  revocations: Revocation[];
  /** In the target, unknown to SCIM: drift, revoked only with spec.revokeUnmanaged. */
  unmanaged: ActualMember[];
  /** Would be revoked but are in spec.protectedMembers. */
  protectedKept: string[];
}

export interface DiffPolicy {
  revokeUnmanaged: boolean;
  /** Lowercased emails never revoked. */
  protectedMembers: ReadonlySet<string>;
  /** False when the target stores no teams. */
  compareTeams: boolean;
}

export const emptyPlan = (): Plan => ({ grants: [], updates: [], revocations: [], unmanaged: [], protectedKept: [] });

export const planSize = (p: Plan): number => p.grants.length + p.updates.length + p.revocations.length;

const sameTeams = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((t, i) => t === b[i]);

/** Adds to plan what one email needs; d and a have the same email when both are given. */
export function diffMember(plan: Plan, d: DesiredEntry | undefined, a: ActualMember | undefined, policy: DiffPolicy): void {
  if (d?.member) {
    if (!a) plan.grants.push(d.member);
    else if (a.role !== d.member.role || (policy.compareTeams && !sameTeams(a.teams, d.member.teams))) {
      plan.updates.push({ member: d.member, from: a });
    }
    return;
  }
  if (!a) return;
  if (!d) plan.unmanaged.push(a);
  const reason: RevocationReason | undefined = d ? 'deprovisioned' : policy.revokeUnmanaged ? 'unmanaged' : undefined;
  if (!reason) return;
  if (policy.protectedMembers.has(a.email)) plan.protectedKept.push(a.email);
  else plan.revocations.push({ email: a.email, reason });
}

/**
 * The plan turning `actual` into `desired`. Both lists are sorted here; emails must be
 * lowercased and unique within each list.
 */
export function diff(desired: readonly DesiredEntry[], actual: readonly ActualMember[], policy: DiffPolicy): Plan {
  const plan = emptyPlan();
  const ds = [...desired].sort((x, y) => compareEmails(x.email, y.email));
  const as = [...actual].sort((x, y) => compareEmails(x.email, y.email));
  let i = 0;
  let j = 0;
  while (i < ds.length || j < as.length) {
    const c = i >= ds.length ? 1 : j >= as.length ? -1 : compareEmails(ds[i].email, as[j].email);
    if (c < 0) diffMember(plan, ds[i++], undefined, policy);
    else if (c > 0) diffMember(plan, undefined, as[j++], policy);
    else diffMember(plan, ds[i++], as[j++], policy);
  }
  return plan;
}

/** What the target holds after a plan is applied to `actual` (pure; the tests' model of apply). */
export function applyPlanTo(actual: readonly ActualMember[], plan: Plan): ActualMember[] {
  const m = new Map(actual.map((a) => [a.email, a]));
  for (const g of plan.grants) m.set(g.email, { email: g.email, role: g.role, teams: g.teams });
  for (const u of plan.updates) m.set(u.member.email, { email: u.member.email, role: u.member.role, teams: u.member.teams });
  for (const r of plan.revocations) m.delete(r.email);
  return [...m.values()].sort((x, y) => compareEmails(x.email, y.email));
}
