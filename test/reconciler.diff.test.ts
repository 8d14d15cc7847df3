// diff() is pure: table-driven cases and fast-check properties (issue 3: applying a plan to
// actual yields desired; the plan of a converged state is empty).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyPlanTo, diff, type DesiredEntry, type DiffPolicy } from '../src/reconciler/diff.js';
import { decideGuard, revocationLimit } from '../src/reconciler/guard.js';
import { compareEmails, type MemberSpec } from '../src/targets/target.js';

const policy = (p: Partial<DiffPolicy> = {}): DiffPolicy => ({ revokeUnmanaged: false, protectedMembers: new Set(), compareTeams: true, ...p });
const member = (email: string, role = 'member', teams: string[] = []): MemberSpec => ({ email, role, teams, displayName: null, externalId: null });
const want = (email: string, role?: string, teams?: string[]): DesiredEntry => ({ email, member: member(email, role, teams) });
const gone = (email: string): DesiredEntry => ({ email });
const has = (email: string, role = 'member', teams: string[] = []) => ({ email, role, teams });

describe('diff (table)', () => {
  const cases: { name: string; desired: DesiredEntry[]; actual: ReturnType<typeof has>[]; p?: Partial<DiffPolicy>; expect: Record<string, string[]> }[] = [
    { name: 'missing member is granted', desired: [want('a@x')], actual: [], expect: { grants: ['a@x'] } },
    { name: 'converged is empty', desired: [want('a@x', 'admin', ['t'])], actual: [has('a@x', 'admin', ['t'])], expect: {} },
    { name: 'role change is an update', desired: [want('a@x', 'admin')], actual: [has('a@x', 'member')], expect: { updates: ['a@x'] } },
    { name: 'team change is an update', desired: [want('a@x', 'member', ['a', 'b'])], actual: [has('a@x', 'member', ['a'])], expect: { updates: ['a@x'] } },
    { name: 'teams ignored when the target has none', desired: [want('a@x', 'member', ['a'])], actual: [has('a@x')], p: { compareTeams: false }, expect: {} },
    { name: 'deprovisioned member is revoked', desired: [gone('a@x')], actual: [has('a@x')], expect: { revocations: ['a@x'] } },
    { name: 'deprovisioned and absent: nothing', desired: [gone('a@x')], actual: [], expect: {} },
    { name: 'unmanaged is reported, not revoked', desired: [], actual: [has('z@x')], expect: { unmanaged: ['z@x'] } },
    { name: 'unmanaged revoked when opted in', desired: [], actual: [has('z@x')], p: { revokeUnmanaged: true }, expect: { unmanaged: ['z@x'], revocations: ['z@x'] } },
    { name: 'protected member is kept', desired: [gone('boss@x')], actual: [has('boss@x')], p: { protectedMembers: new Set(['boss@x']) }, expect: { protectedKept: ['boss@x'] } },
    { name: 'protected unmanaged is kept', desired: [], actual: [has('boss@x')], p: { revokeUnmanaged: true, protectedMembers: new Set(['boss@x']) }, expect: { unmanaged: ['boss@x'], protectedKept: ['boss@x'] } },
    {
      name: 'mixed, unsorted input',
      desired: [want('c@x'), gone('b@x'), want('a@x', 'admin')],
      actual: [has('d@x'), has('b@x'), has('a@x')],
      expect: { grants: ['c@x'], updates: ['a@x'], revocations: ['b@x'], unmanaged: ['d@x'] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = diff(c.desired, c.actual, policy(c.p));
      expect({
        grants: plan.grants.map((g) => g.email),
        updates: plan.updates.map((u) => u.member.email),
        revocations: plan.revocations.map((r) => r.email),
        unmanaged: plan.unmanaged.map((u) => u.email),
        protectedKept: plan.protectedKept,
      }).toEqual({ grants: [], updates: [], revocations: [], unmanaged: [], protectedKept: [], ...c.expect });
    });
  }
});

describe('compareEmails', () => {
  it('is code point (UTF-8 byte) order, like collate "C"', () => {
    const xs = ['b@x', 'a@x', 'é@x', '😀@x', '\uffef@x', 'A@x', 'a.b@x'];
    const bytes = [...xs].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect([...xs].sort(compareEmails)).toEqual(bytes);
  });
});

describe('diff (properties)', () => {
  const email = fc.constantFrom(...'abcdefghij'.split('').map((c) => `${c}@example.com`), 'é@example.com', '😀@example.com');
  const role = fc.constantFrom('member', 'admin', 'owner');
  const teams = fc.uniqueArray(fc.constantFrom('red', 'blue', 'green'), { maxLength: 3 }).map((t) => [...t].sort(compareEmails));
  const desiredArb = fc.uniqueArray(
    fc.record({ email, wanted: fc.boolean(), role, teams }).map((d): DesiredEntry => (d.wanted ? { email: d.email, member: member(d.email, d.role, d.teams) } : { email: d.email })),
    { selector: (d) => d.email, maxLength: 12 },
  );
  const actualArb = fc.uniqueArray(fc.record({ email, role, teams }), { selector: (a) => a.email, maxLength: 12 });
  const wantedState = (desired: DesiredEntry[]) =>
    desired.filter((d) => d.member).map((d) => ({ email: d.email, role: d.member!.role, teams: d.member!.teams })).sort((a, b) => compareEmails(a.email, b.email));

  it('applying the plan to actual yields desired (revokeUnmanaged, nothing protected)', () => {
    fc.assert(
      fc.property(desiredArb, actualArb, (desired, actual) => {
        const p = policy({ revokeUnmanaged: true });
        expect(applyPlanTo(actual, diff(desired, actual, p))).toEqual(wantedState(desired));
      }),
    );
  });

  it('the plan of the converged state is empty', () => {
    fc.assert(
      fc.property(desiredArb, actualArb, fc.boolean(), (desired, actual, revokeUnmanaged) => {
        const p = policy({ revokeUnmanaged });
        const after = applyPlanTo(actual, diff(desired, actual, p));
        const again = diff(desired, after, p);
        expect([again.grants, again.updates, again.revocations]).toEqual([[], [], []]);
      }),
    );
  });

  it('never revokes a protected member and keeps unmanaged members unless told', () => {
    fc.assert(
      fc.property(desiredArb, actualArb, fc.subarray(['a@example.com', 'b@example.com', 'c@example.com']), (desired, actual, prot) => {
        const p = policy({ protectedMembers: new Set(prot) });
        const plan = diff(desired, actual, p);
        for (const r of plan.revocations) {
          expect(prot).not.toContain(r.email);
          expect(desired.some((d) => d.email === r.email)).toBe(true);
        }
        const after = applyPlanTo(actual, plan);
        for (const d of desired.filter((x) => x.member)) expect(after.find((a) => a.email === d.email)?.role).toBe(d.member!.role);
      }),
    );
  });
});

describe('revocation guard', () => {
  const guard = { enabled: true, maxFraction: 0.1, maxCount: 10, window: 3_600_000 };
  it('allows the larger of the count and the fraction', () => {
    expect(revocationLimit(guard, 20)).toBe(10);
    expect(revocationLimit(guard, 1000)).toBe(100);
    expect(revocationLimit({ ...guard, maxCount: null }, 25)).toBe(3);
    expect(revocationLimit({ ...guard, enabled: false }, 25)).toBe(Infinity);
  });
  it('holds when the window plus the pass exceed the limit', () => {
    expect(decideGuard(guard, 20, 0, 10).hold).toBe(false);
    expect(decideGuard(guard, 20, 0, 11).hold).toBe(true);
    expect(decideGuard(guard, 20, 9, 2).hold).toBe(true);
    expect(decideGuard(guard, 20, 50, 0).hold).toBe(false);
  });
});
