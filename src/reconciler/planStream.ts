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
import { PageReader } from './pageReader.js';

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
 * The merge-join itself (no I/O of its own): `desired` pages ascending by email (compareEmails,
 * one entry per email), `actualPages` the target's pages, which must be ascending too (else
 * TargetRejectedError). Produces the plan diff() would produce for the same two states
 * (test/reconciler.planStream.test.ts checks this for random states and page sizes). Awaits
 * only at page boundaries (PageReader).
 */
export async function mergePlan(
  desiredPages: AsyncIterable<DesiredEntry[]>,
  actualPages: AsyncIterable<ActualMember[]>,
  policy: DiffPolicy,
  signal?: AbortSignal,
): Promise<OrganizationPlan> {
  const plan = emptyPlan();
  const desired = new PageReader(desiredPages);
  const actual = new PageReader(actualPages);
  let actualCount = 0;
  let desiredCount = 0;
  let last: string | undefined;
  // Both streams are read strictly alternately (never concurrently): the desired stream may
  // run on a single client.
  for (;;) {
    const fd = desired.fill();
    if (fd) await fd;
    const fa = actual.fill();
    if (fa) {
      await fa;
      throwIfAborted(signal);
    }
    if (desired.done && actual.done) break;
    if (!actual.done) {
      const email = actual.head.email;
      if (last !== undefined && compareEmails(last, email) >= 0) {
        throw new TargetRejectedError(`target list is not in ascending email order ("${last}" before "${email}"); the contract requires it`);
      }
    }
    const c = desired.done ? 1 : actual.done ? -1 : compareEmails(desired.head.email, actual.head.email);
    const de = c <= 0 ? desired.head : undefined;
    const ae = c >= 0 ? actual.head : undefined;
    diffMember(plan, de, ae, policy);
    if (de?.member) desiredCount++;
    if (ae) {
      actualCount++;
      last = ae.email;
      actual.next();
    }
    if (de) desired.next();
  }
  return { plan, actualCount, desiredCount };
}
