// The reconciler in-process against a real test database and a real HTTP target (and the
// reference Postgres table); desired state is written with SQL + markForReconcile.
import { makeLogger } from '../src/log.js';
import { logSink } from './helpers/logScan.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driftMembers, provisioningLatency, reconcileTotal, revocationsHeld, targetRequestsTotal } from '../src/metrics.js';
import { reconcilerCommands, startReconciler } from '../src/reconciler/index.js';
import { makeReconcilerStore, openReconcilerStore } from '../src/store/reconcilerStore.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { addGroup, addToGroup, addUser, addUsers, createOrg, setSpec, updateUser, waitFor } from './helpers/desired.js';
import { startHttpTarget, type HttpTargetServer } from './helpers/httpTarget.js';
import { loadConfig } from '../src/config.js';

let db: TestDatabase;
let target: HttpTargetServer;
const stop = new AbortController();
let running: Promise<void>;
const log = makeLogger(process.env.TEST_LOG_LEVEL ?? 'info', logSink('reconciler.test.ts'));
const settings = { pollMs: 50, leaseMs: 2000, retryBaseMs: 50, retryMaxMs: 400, pageSize: 3 };

const httpSpec = (extra: Record<string, unknown> = {}) => ({
  target: { type: 'http', http: { baseUrl: target.baseUrl, retryBaseDelay: '5ms', maxRetries: 2, pageSize: 2 } },
  ...extra,
});
const calls = (org: string) => target.writes(org).map((w) => `${w.method} ${w.email}${w.method === 'PUT' ? ` ${w.body.role}${w.body.teams.length ? ` [${w.body.teams}]` : ''}` : ''}`);
const gauge = async (g: typeof driftMembers | typeof revocationsHeld, labels: Record<string, string>) =>
  (await g.get()).values.find((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x))?.value;

/**
 * Waits for the first full pass of a new organization (scheduled at once by the housekeeping)
 * to finish, and the queue to drain: the next is a resyncInterval away, so no scheduled pass
 * races with what the test does next (a full pass applies a deactivation without a latency
 * origin, and holds a whole wave of revocations where per-user passes revoke up to the limit).
 */
async function firstFullPass(org: string): Promise<void> {
  await waitFor(async () => (await db.pool.query(`select 1 from reconcile_status where organization_id = $1 and last_full_sync_at is not null`, [org])).rowCount === 1, 10_000, 'first full pass');
  await waitFor(async () => (await db.pool.query(`select 1 from reconcile_queue where organization_id = $1`, [org])).rowCount === 0, 5000, 'queue drained');
}

/** The store parts of a CommandContext over the test database. */
const storeOf = (d: TestDatabase) => ({ pool: d.pool, store: makeReconcilerStore(d.pool), openStore: (max: number) => openReconcilerStore(d.url, max) });

async function run(cmd: keyof typeof reconcilerCommands, args: string[]): Promise<string[]> {
  const lines: string[] = [];
  const code = await reconcilerCommands[cmd](args, { ...storeOf(db), config: loadConfig(), databaseUrl: db.url, log, out: (l) => lines.push(l), signal: new AbortController().signal });
  expect(code).toBe(0);
  return lines;
}

beforeAll(async () => {
  db = await createTestDatabase();
  target = await startHttpTarget();
  running = startReconciler({ openStore: (max) => openReconcilerStore(db.url, max), databaseUrl: db.url, log, signal: stop.signal, config: loadConfig(), workerId: 'test-worker', settings });
});
afterAll(async () => {
  stop.abort();
  await running;
  await target.close();
  await db.drop();
});

describe('reconciler', () => {
  it('a target rejecting writes (403) fails the pass: terminal result, 4xx metric, status and plan show it', async () => {
    const count = async (labels: Record<string, string>, m: typeof reconcileTotal | typeof targetRequestsTotal) =>
      (await m.get()).values.filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x)).reduce((a, v) => a + v.value, 0);
    const org = await createOrg(db.pool, 'rejecting', httpSpec());
    // Nothing clears the error recorded below.
    await firstFullPass(org);
    const terminalBefore = await count({ result: 'terminal' }, reconcileTotal);
    const rejectedBefore = await count({ target: 'http', operation: 'grant', outcome: 'client_error' }, targetRequestsTotal);
    target.failNext(1, { status: 403, method: 'PUT' });
    await addUser(db.pool, org, 'rita@x.io');
    const lastError = await waitFor(async () => (await db.pool.query<{ e: string | null }>(`select last_error as e from reconcile_status where organization_id = $1`, [org])).rows[0]?.e, 5000, 'the rejection in reconcile_status');
    expect(lastError).toMatch(/rejected by the target.*HTTP 403/);
    await waitFor(async () => (await count({ result: 'terminal' }, reconcileTotal)) === terminalBefore + 1, 5000, 'a terminal pass counted');
    expect(await count({ target: 'http', operation: 'grant', outcome: 'client_error' }, targetRequestsTotal)).toBe(rejectedBefore + 1);
    const plan = await run('plan', ['rejecting']);
    expect(plan.join('\n')).toMatch(/last pass error: .*HTTP 403/);
  });

  it('grants, updates the role from a mapped group, and revokes a deactivated user, each once', async () => {
    const org = await createOrg(db.pool, 'life', httpSpec({ roleMappings: [{ group: 'Admins', role: 'admin', teams: ['ops'] }] }));
    await firstFullPass(org);
    const ann = await addUser(db.pool, org, 'Ann@Example.com', { displayName: 'Ann' });
    await target.waitForWrites(1, 5000, 'life');
    const admins = await addGroup(db.pool, org, 'admins'); // displayName matches case-insensitively
    await addToGroup(db.pool, org, admins, ann);
    await target.waitForWrites(2, 5000, 'life');
    await updateUser(db.pool, org, ann, { active: false });
    await target.waitForWrites(3, 5000, 'life');
    await updateUser(db.pool, org, ann, { active: false }); // a repeated deactivation changes nothing
    await new Promise((r) => setTimeout(r, 300));
    expect(calls('life')).toEqual(['PUT ann@example.com member', 'PUT ann@example.com admin [ops]', 'DELETE ann@example.com']);
    const events = await run('events', ['life', '--json']);
    expect(events.map((l) => JSON.parse(l)).map((e) => `${e.operation}:${e.result}`)).toEqual(['revoke:ok', 'update:ok', 'grant:ok']);
    expect(JSON.parse(events[0]).latencyMs).toBeGreaterThan(0);
    expect((await provisioningLatency.get()).values.find((v) => v.labels.operation === 'revoke' && v.metricName?.endsWith('_count'))?.value).toBeGreaterThan(0);
  });

  it('revokes on DELETE (tombstone) and grants again when re-provisioned as a new row', async () => {
    const org = await createOrg(db.pool, 'tomb', httpSpec());
    const old = await addUser(db.pool, org, 'bo@x.io');
    await target.waitForWrites(1, 5000, 'tomb');
    await updateUser(db.pool, org, old, { deleted: true });
    await target.waitForWrites(2, 5000, 'tomb');
    await addUser(db.pool, org, 'BO@x.io');
    await target.waitForWrites(3, 5000, 'tomb');
    await updateUser(db.pool, org, old, {}); // a late item for the tombstone must not revoke the live user
    await new Promise((r) => setTimeout(r, 300));
    expect(calls('tomb')).toEqual(['PUT bo@x.io member', 'DELETE bo@x.io', 'PUT bo@x.io member']);
  });

  it('revokes the old email of a renamed user and grants the new one', async () => {
    const org = await createOrg(db.pool, 'rename', httpSpec());
    const u = await addUser(db.pool, org, 'old@x.io');
    await target.waitForWrites(1, 5000, 'rename');
    await updateUser(db.pool, org, u, { userName: 'new@x.io' });
    await target.waitForWrites(3, 5000, 'rename');
    expect(calls('rename').sort()).toEqual(['DELETE old@x.io', 'PUT new@x.io member', 'PUT old@x.io member']);
  });

  it('mappedGroupsOnly: first mapping gives the role, teams are the union, nested groups count', async () => {
    const org = await createOrg(db.pool, 'mapped', httpSpec({
      membership: 'mappedGroupsOnly',
      roleMappings: [
        { group: 'grp-owners', role: 'owner', teams: ['core'] },
        { group: 'Engineering', role: 'member', teams: ['eng'] },
      ],
    }));
    const eng = await addGroup(db.pool, org, 'Engineering');
    const owners = await addGroup(db.pool, org, 'Owners', 'grp-owners'); // matched by externalId
    const platform = await addGroup(db.pool, org, 'Platform');
    await addToGroup(db.pool, org, eng, platform, 'Group');
    const [a, b, c] = [await addUser(db.pool, org, 'a@m.io'), await addUser(db.pool, org, 'b@m.io'), await addUser(db.pool, org, 'c@m.io')];
    await addToGroup(db.pool, org, eng, a);
    await addToGroup(db.pool, org, owners, a);
    await addToGroup(db.pool, org, platform, b);
    void c; // in no mapped group: not a member
    // a@m.io may be granted as an Engineering member before its Owners membership is seen:
    // wait for the converged state, not for the member count (a level-based reconciler passes
    // through intermediate states).
    const expected = [
      { email: 'a@m.io', role: 'owner', teams: ['core', 'eng'] },
      { email: 'b@m.io', role: 'member', teams: ['eng'] },
    ];
    const observed = () => target.members('mapped').map(({ email, role, teams }) => ({ email, role, teams }));
    await waitFor(() => JSON.stringify(observed()) === JSON.stringify(expected), 5000, 'converged roles');
    expect(observed()).toEqual(expected);
  });

  it('a full resync repairs changes made in the target and reports unmanaged members; protected members stay', async () => {
    const org = await createOrg(db.pool, 'drift', httpSpec({ resyncInterval: '300ms', protectedMembers: ['Boss@d.io'] }));
    await addUsers(db.pool, org, ['u1@d.io', 'u2@d.io', 'u3@d.io', 'u4@d.io', 'u5@d.io', 'boss@d.io']);
    await waitFor(() => target.members('drift').length === 6, 5000, 'six members');
    const boss = (await db.pool.query(`select id from scim_users where user_name = 'boss@d.io'`)).rows[0].id;
    await updateUser(db.pool, org, boss, { active: false });
    target.remove('drift', 'u2@d.io');
    target.put('drift', { email: 'u3@d.io', role: 'admin', teams: [] });
    target.put('drift', { email: 'stranger@d.io', role: 'member', teams: [] });
    await waitFor(() => target.members('drift').find((m) => m.email === 'u2@d.io') && target.members('drift').find((m) => m.email === 'u3@d.io')?.role === 'member', 5000, 'repair');
    await waitFor(async () => (await gauge(driftMembers, { organization: 'drift', kind: 'unmanaged' })) === 1, 3000, 'unmanaged gauge');
    expect(target.members('drift').map((m) => m.email)).toContain('stranger@d.io');
    expect(target.members('drift').map((m) => m.email)).toContain('boss@d.io');
    const plan = await run('plan', ['drift']);
    expect(plan.join('\n')).toMatch(/unmanaged stranger@d.io role=member \(reported only\)/);
    expect(plan.join('\n')).toMatch(/protected boss@d.io \(kept\)/);
    // opting in revokes the unmanaged member
    await setSpec(db.pool, org, 'drift', httpSpec({ resyncInterval: '300ms', protectedMembers: ['boss@d.io'], revokeUnmanaged: true }));
    await waitFor(() => !target.members('drift').some((m) => m.email === 'stranger@d.io'), 5000, 'unmanaged revoked');
  });

  it('a target returning 500s converges once it recovers, nothing lost or duplicated', async () => {
    const org = await createOrg(db.pool, 'flaky', httpSpec());
    target.failNext(12, { status: 500, method: 'PUT' });
    const names = ['f1@x.io', 'f2@x.io', 'f3@x.io', 'f4@x.io'];
    for (const n of names) await addUser(db.pool, org, n);
    await waitFor(() => target.members('flaky').length === 4, 10_000, 'convergence');
    await new Promise((r) => setTimeout(r, 300));
    const puts = target.writes('flaky').map((w) => w.email).sort();
    expect(puts).toEqual(names);
    expect(target.requests.filter((r) => r.org === 'flaky' && r.status === 500).length).toBe(12);
  });

  it('the guard holds a mass revocation; approve releases it', async () => {
    const org = await createOrg(db.pool, 'mass', httpSpec({ revocationGuard: { maxCount: 2, maxFraction: null } }));
    const names = Array.from({ length: 8 }, (_, i) => `m${i}@x.io`);
    await addUsers(db.pool, org, names);
    await waitFor(() => target.members('mass').length === 8, 5000, 'eight members');
    await firstFullPass(org);
    const ids = (await db.pool.query(`select id from scim_users where organization_id = $1 order by user_name`, [org])).rows.map((r) => r.id);
    await updateUser(db.pool, org, ids.slice(0, 6), { active: false });
    await waitFor(async () => (await gauge(revocationsHeld, { organization: 'mass' })) === 4, 5000, 'four held');
    await new Promise((r) => setTimeout(r, 200));
    expect(target.members('mass')).toHaveLength(6); // two revoked within the window, four held
    const plan = (await run('plan', ['mass'])).join('\n');
    expect(plan).toMatch(/HELD/);
    expect(plan).toMatch(/scimsync approve mass/);
    expect((await run('approve', ['mass']))[0]).toMatch(/approved 4 held revocation/);
    await waitFor(() => target.members('mass').length === 2, 5000, 'approved revocations applied');
    expect(await gauge(revocationsHeld, { organization: 'mass' })).toBe(0);
    expect(target.writes('mass').filter((w) => w.method === 'DELETE')).toHaveLength(6);
  });

  it('dry run records the plan and applies nothing', async () => {
    const org = await createOrg(db.pool, 'dry', httpSpec({ dryRun: true }));
    await firstFullPass(org);
    await addUser(db.pool, org, 'd1@x.io');
    await addUsers(db.pool, org, ['d2@x.io', 'd3@x.io']);
    await waitFor(async () => (await db.pool.query(`select last_plan from reconcile_status where organization_id = $1`, [org])).rows[0]?.last_plan?.grants === 3, 5000, 'plan recorded');
    const events = await run('events', ['dry', '--limit', '5']);
    expect(events.join('\n')).toMatch(/grant\s+dry-run\s+d1@x.io/);
    expect(target.writes('dry')).toEqual([]);
    expect((await run('plan', ['dry'])).join('\n')).toMatch(/dry run[\s\S]*grant   d1@x.io/);
  });

  it('the default target is the reference table app_memberships', async () => {
    const org = await createOrg(db.pool, 'demo', {});
    const u = await addUser(db.pool, org, 'Demo.User@Example.com');
    await waitFor(async () => (await db.pool.query(`select role from app_memberships where organization = 'demo' and email = 'demo.user@example.com'`)).rows[0]?.role === 'member', 5000, 'grant');
    await updateUser(db.pool, org, u, { active: false });
    await waitFor(async () => (await db.pool.query(`select 1 from app_memberships where organization = 'demo'`)).rowCount === 0, 5000, 'revoke');
    const plan = await run('plan', ['demo', '--json']);
    expect(JSON.parse(plan.join('\n'))).toMatchObject({ target: 'postgres', plan: { grants: [], revocations: [] } });
  });

  it('a permanently failing item stays queued with its error and backs off; plan reports the cause', async () => {
    const org = await createOrg(db.pool, 'broken', { target: { type: 'http', http: { baseUrl: 'http://127.0.0.1:1', maxRetries: 0, retryBaseDelay: '1ms' } } });
    await addUser(db.pool, org, 'x@broken.io');
    await waitFor(async () => (await db.pool.query(`select attempts from reconcile_queue where organization_id = $1 and user_id is not null`, [org])).rows[0]?.attempts >= 2, 5000, 'retries');
    const { rows } = await db.pool.query(`select last_error from reconcile_queue where organization_id = $1 and user_id is not null`, [org]);
    expect(rows[0].last_error).toMatch(/gave up after 1 attempts/);
    const ctx = { ...storeOf(db), config: loadConfig(), databaseUrl: db.url, log, out: () => {}, signal: new AbortController().signal };
    await expect(reconcilerCommands.plan(['broken'], ctx)).rejects.toThrow(/127\.0\.0\.1:1/);
  });

  it('a target listing members out of order fails the pass instead of planning from it', async () => {
    const unsorted = await startHttpTarget();
    try {
      unsorted.unsorted = true;
      await createOrg(db.pool, 'unsorted', { target: { type: 'http', http: { baseUrl: unsorted.baseUrl, pageSize: 10 } } });
      for (const e of ['a@u.io', 'b@u.io', 'c@u.io']) unsorted.put('unsorted', { email: e, role: 'member', teams: [] });
      const ctx = { ...storeOf(db), config: loadConfig(), databaseUrl: db.url, log, out: () => {}, signal: new AbortController().signal };
      await expect(reconcilerCommands.plan(['unsorted'], ctx)).rejects.toThrow(/not in ascending email order/);
      await new Promise((r) => setTimeout(r, 200));
      expect(unsorted.writes()).toEqual([]);
    } finally {
      await unsorted.close();
    }
  });
});
