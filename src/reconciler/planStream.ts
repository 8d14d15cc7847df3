// The full-resync diff: a merge-join of two streams sorted by email — the desired state
// (SQL keyset pages) and the target's pages. Memory is bounded by one page of each plus the
// plan itself (proportional to the drift, not to the organization's size). The target must
// return members in ascending email order (docs/target-http.md); a target that does not is
// detected and the pass fails instead of producing a wrong plan.
import type { ReconcilerStatements } from '../store/reconcilerStore.js';
import { TargetRejectedError, compareEmails, type ActualMember, type Target } from '../targets/target.js';
import { diffMember, emptyPlan, type DesiredEntry, type DiffPolicy, type Plan } from './diff.js';
import { desiredEntries, type MappedGroups, type Organization } from './desired.js';
import { throwIfAborted } from './errors.js';

export interface OrganizationPlan {
  plan: Plan;
  /** Members the target holds. */
  actualCount: number;
  /** Emails that should be members. */
  desiredCount: number;
}

export function policyFor(org: Organization, target: Target): DiffPolicy {
  return {
    revokeUnmanaged: org.spec.revokeUnmanaged,
    protectedMembers: new Set(org.spec.protectedMembers.map((e) => e.trim().toLowerCase())),
    compareTeams: target.supportsTeams,
  };
}

async function* flatten(pages: AsyncIterable<ActualMember[]>, signal?: AbortSignal): AsyncGenerator<ActualMember> {
  let last: string | undefined;
  for await (const page of pages) {
    throwIfAborted(signal);
    for (const m of page) {
      if (last !== undefined && compareEmails(last, m.email) >= 0) {
        throw new TargetRejectedError(`target list is not in ascending email order ("${last}" before "${m.email}"); the contract requires it`);
      }
      last = m.email;
      yield m;
    }
  }
}

/** The full pass's plan: the desired state streamed from SQL, merged with the target's pages. */
export async function planOrganization(
  db: ReconcilerStatements,
  org: Organization,
  groups: MappedGroups,
  target: Target,
  pageSize: number,
  signal?: AbortSignal,
): Promise<OrganizationPlan> {
  return mergePlan(desiredEntries(db, org, groups, pageSize), target.list(signal), policyFor(org, target), signal);
}

/**
 * The merge-join itself (no I/O of its own): `desired` ascending by email (compareEmails, one
 * entry per email), `actualPages` the target's pages, which must be ascending too (else
 * TargetRejectedError). Produces the plan diff() would produce for the same two states
 * (test/reconciler.planStream.test.ts checks this for random states and page sizes).
 */
export async function mergePlan(
  desired: AsyncIterator<DesiredEntry>,
  actualPages: AsyncIterable<ActualMember[]>,
  policy: DiffPolicy,
  signal?: AbortSignal,
): Promise<OrganizationPlan> {
  const plan = emptyPlan();
  const actual = flatten(actualPages, signal);
  let actualCount = 0;
  let desiredCount = 0;
  // Both iterators are consumed strictly alternately (never concurrently): the desired
  // stream may run on a single client.
  let d: IteratorResult<DesiredEntry> = await desired.next();
  let a: IteratorResult<ActualMember> = await actual.next();
  while (!d.done || !a.done) {
    const c = d.done ? 1 : a.done ? -1 : compareEmails(d.value.email, a.value.email);
    const de = c <= 0 ? (d.value as DesiredEntry) : undefined;
    const ae = c >= 0 ? (a.value as ActualMember) : undefined;
    diffMember(plan, de, ae, policy);
    if (de?.member) desiredCount++;
    if (ae) actualCount++;
    if (de) d = await desired.next();
    if (ae) a = await actual.next();
  }
  return { plan, actualCount, desiredCount };
}
