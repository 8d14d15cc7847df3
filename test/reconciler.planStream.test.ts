// The full pass does not call diff(): it merge-joins the desired state (SQL keyset pages) with
// the target's pages (planStream.ts). These properties check the code production runs against
// the reference diff(): random desired and actual states, cut into pages of random sizes,
// must give the same plan; the desired stream read from real Postgres in pages of any size
// must be the same stream; a target that lists out of order is refused, never mis-planned.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diff, type DesiredEntry, type DiffPolicy } from '../src/reconciler/diff.js';
import { desiredEntries, loadOrganization, resolveMappedGroups } from '../src/reconciler/desired.js';
import { mergePlan } from '../src/reconciler/planStream.js';
import { makeReconcilerStore } from '../src/store/reconcilerStore.js';
import { compareEmails, TargetRejectedError, type ActualMember, type MemberSpec } from '../src/targets/target.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { addUsersEach, createOrg, updateUser } from './helpers/desired.js';

const member = (email: string, role: string, teams: string[]): MemberSpec => ({ email, role, teams, displayName: null, externalId: null });
const email = fc.constantFrom(...'abcdefghijklmnop'.split('').map((c) => `${c}@example.com`), 'A@example.com', 'é@example.com', '😀@example.com', 'a.b@example.com');
const role = fc.constantFrom('member', 'admin');
const teams = fc.uniqueArray(fc.constantFrom('red', 'blue'), { maxLength: 2 }).map((t) => [...t].sort(compareEmails));
const byEmail = <T extends { email: string }>(xs: T[]) => [...xs].sort((x, y) => compareEmails(x.email, y.email));
const desiredArb = fc
  .uniqueArray(
    fc.record({ email, wanted: fc.boolean(), role, teams }).map((d): DesiredEntry => (d.wanted ? { email: d.email, member: member(d.email, d.role, d.teams) } : { email: d.email })),
    { selector: (d) => d.email, maxLength: 20 },
  )
  .map(byEmail);
const actualArb = fc.uniqueArray(fc.record({ email, role, teams }), { selector: (a) => a.email, maxLength: 20 }).map(byEmail);
const policyArb = fc.record({
  revokeUnmanaged: fc.boolean(),
  protectedMembers: fc.uniqueArray(email, { maxLength: 3 }).map((xs) => new Set(xs)),
  compareTeams: fc.boolean(),
}) as fc.Arbitrary<DiffPolicy>;

/** Cuts xs into consecutive pages of the given sizes (cycled; a size 0 gives an empty page). */
function pages<T>(xs: T[], sizes: number[]): T[][] {
  const out: T[][] = [];
  let i = 0;
  for (let k = 0; i < xs.length; k++) {
    const n = sizes[k % sizes.length]!;
    out.push(xs.slice(i, i + n));
    i += n;
    if (k > 10_000) throw new Error('no progress');
  }
  return out;
}

async function* paged<T>(xs: T[][]): AsyncGenerator<T[]> {
  for (const p of xs) {
    await Promise.resolve();
    yield p;
  }
}

// Page sizes with at least one non-zero size; empty pages in between are allowed (a target may send them).
const sizesArb = fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 5 }).filter((s) => s.some((n) => n > 0));

describe('mergePlan (the full pass) against diff()', () => {
  it('random states in random page sizes give the plan diff() gives', async () => {
    await fc.assert(
      fc.asyncProperty(desiredArb, actualArb, policyArb, sizesArb, sizesArb, async (desired, actual, policy, ds, as) => {
        const got = await mergePlan(paged(pages(desired, ds)), paged(pages(actual, as)), policy);
        expect(got.plan).toEqual(diff(desired, actual, policy));
        expect(got.actualCount).toBe(actual.length);
        expect(got.desiredCount).toBe(desired.filter((d) => d.member).length);
      }),
      { numRuns: 500 },
    );
  });

  it('a target that lists out of order is refused (TargetRejectedError), whatever the page sizes', async () => {
    await fc.assert(
      fc.asyncProperty(desiredArb, actualArb.filter((a) => a.length >= 2), sizesArb, fc.nat(), async (desired, actual, as, k) => {
        const i = k % (actual.length - 1);
        const swapped = [...actual];
        [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
        await expect(mergePlan(paged([desired]), paged(pages(swapped, as)), { revokeUnmanaged: false, protectedMembers: new Set(), compareTeams: true })).rejects.toBeInstanceOf(TargetRejectedError);
      }),
      { numRuns: 200 },
    );
  });
});

describe('desiredEntries (SQL keyset pages) on real Postgres', () => {
  let db: TestDatabase;
  /** The reconciler's statements over the test database. */
  const store = () => makeReconcilerStore(db.pool);
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('any page size yields the same desired stream, which feeds the same plan', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.record({ email, active: fc.boolean() }), { selector: (u) => u.email.toLowerCase(), maxLength: 15 }),
        fc.integer({ min: 1, max: 6 }),
        actualArb,
        async (users, pageSize, actual) => {
          const slug = `plan${n++}`;
          const orgId = await createOrg(db.pool, slug);
          const ids = await addUsersEach(db.pool, orgId, users.map((u) => u.email));
          const inactive = ids.filter((_, i) => !users[i]!.active);
          if (inactive.length) await updateUser(db.pool, orgId, inactive, { active: false });
          const org = (await loadOrganization(store(), orgId))!;
          const groups = await resolveMappedGroups(store(), org);
          const collect = async (size: number) => {
            const out: DesiredEntry[] = [];
            for await (const page of desiredEntries(store(), org, groups, size)) out.push(...page);
            return out;
          };
          const whole = await collect(1000);
          const inPages = await collect(pageSize);
          expect(inPages).toEqual(whole);
          expect(whole.map((e) => e.email)).toEqual(byEmail(whole).map((e) => e.email));
          expect(whole.filter((e) => e.member).length).toBe(users.filter((u) => u.active).length);
          const policy: DiffPolicy = { revokeUnmanaged: true, protectedMembers: new Set(), compareTeams: true };
          const got = await mergePlan(desiredEntries(store(), org, groups, pageSize), paged([actual]), policy);
          expect(got.plan).toEqual(diff(whole, actual, policy));
        },
      ),
      { numRuns: 25 },
    );
  });
});
