// A full pass applies its plan in batches of members (applyConcurrency per lock transaction). What
// must hold for every batch: a member whose desired state changed after the plan was made is
// skipped (its own user item applies the change), a member another pass wrote since this pass
// began is read again from the target, and one failing member does not lose the records of
// the others the target already answered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeLogger } from '../src/log.js';
import { httpTargetSpec } from '../src/orgs/scimConfig.js';
import { reconcileOrganizationItem, type ReconcileDeps } from '../src/reconciler/reconcile.js';
import type { WorkItem } from '../src/store/reconcileQueue.js';
import { makeReconcilerStore } from '../src/store/reconcilerStore.js';
import { makeHttpTarget, type ActualMember, type Target } from '../src/targets/index.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { addUsers, createOrg, updateUser } from './helpers/desired.js';
import { startHttpTarget, type HttpTargetServer } from './helpers/httpTarget.js';
import { logSink } from './helpers/logScan.js';

let db: TestDatabase;
let server: HttpTargetServer;
const APPLY_CONCURRENCY = 4;
const log = makeLogger(process.env.TEST_LOG_LEVEL ?? 'info', logSink('reconciler.fullPass.test.ts'));

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startHttpTarget();
});
afterAll(async () => {
  await server.close();
  await db.drop();
});

/** The HTTP target of organization `slug`, with `afterList` run once its last page was read. */
function targetOf(slug: string, afterList: () => Promise<void>): Target {
  const t = makeHttpTarget({ ...httpTargetSpec.parse({ baseUrl: server.baseUrl, pageSize: 7, maxRetries: 0 }), organization: slug });
  return {
    ...t,
    kind: t.kind,
    supportsTeams: t.supportsTeams,
    async *list(signal?: AbortSignal): AsyncIterable<ActualMember[]> {
      yield* t.list(signal);
      await afterList();
    },
  };
}

async function fullPass(slug: string, orgId: string, afterList: () => Promise<void>): Promise<unknown> {
  const target = targetOf(slug, afterList);
  const deps: ReconcileDeps = {
    store: makeReconcilerStore(db.pool),
    targets: { targetFor: async () => target, close: async () => {} },
    workerId: 'full-pass-test',
    log,
    pageSize: 10,
    applyConcurrency: APPLY_CONCURRENCY,
  };
  const item: WorkItem = { id: '0', organizationId: orgId, userId: null, changedAt: new Date().toISOString(), revision: '1', attempts: 0, resync: true, lockedAt: new Date().toISOString() };
  try {
    return await reconcileOrganizationItem(deps, item);
  } finally {
    await target.close();
  }
}

const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}@p.io`);
const okEvents = async (orgId: string) =>
  (await db.pool.query<{ email: string }>(`select email from reconcile_events where organization_id = $1::uuid and result = 'ok' and worker = 'full-pass-test' order by email`, [orgId])).rows.map((r) => r.email);

describe('full pass, batched apply', () => {
  it('skips members changed after the plan and re-reads members another pass wrote, across several batches', async () => {
    const emails = names('b', 2 * APPLY_CONCURRENCY + 20);
    const orgId = await createOrg(db.pool, 'batched', { target: { type: 'http', http: { baseUrl: server.baseUrl } }, revocationGuard: { enabled: false } });
    await addUsers(db.pool, orgId, emails);
    const deactivated = emails[APPLY_CONCURRENCY + 3]!;
    const writtenMeanwhile = emails[5]!;
    const result = await fullPass('batched', orgId, async () => {
      // After the plan (every member a grant), before it is applied: one user is deactivated
      // (no grant any more) and another pass grants one member with a role of its own.
      const id = (await db.pool.query(`select id from scim_users where organization_id = $1::uuid and user_name = $2::text`, [orgId, deactivated])).rows[0].id;
      await updateUser(db.pool, orgId, id, { active: false });
      server.put('batched', { email: writtenMeanwhile, role: 'admin', teams: [] });
      await makeReconcilerStore(db.pool).recordEvent({ organizationId: orgId, email: writtenMeanwhile, operation: 'grant', result: 'ok', worker: 'other-pass' });
    });
    expect(result).toEqual({});
    const granted = server.writes('batched').map((w) => w.email).sort();
    expect(granted).toEqual(emails.filter((e) => e !== deactivated && e !== writtenMeanwhile));
    // The member the other pass wrote keeps what it wrote: this pass read it again and saw no grant to make.
    expect(server.members('batched').find((m) => m.email === writtenMeanwhile)?.role).toBe('admin');
    expect(await okEvents(orgId)).toEqual(granted);
    const managed = (await db.pool.query(`select count(*)::int as n from reconcile_managed_members where organization_id = $1::uuid`, [orgId])).rows[0].n;
    expect(managed).toBe(granted.length);
  });

  it('a member the target refuses fails the pass, and the grants the target made are recorded', async () => {
    const emails = names('f', APPLY_CONCURRENCY + 10);
    const orgId = await createOrg(db.pool, 'onefails', { target: { type: 'http', http: { baseUrl: server.baseUrl } }, revocationGuard: { enabled: false } });
    await addUsers(db.pool, orgId, emails);
    server.failNext(1, { status: 500, method: 'PUT' });
    await expect(fullPass('onefails', orgId, async () => {})).rejects.toThrow(/1 target operation\(s\) failed/);
    const granted = server.writes('onefails').map((w) => w.email).sort();
    expect(granted).toHaveLength(emails.length - 1);
    expect(await okEvents(orgId)).toEqual(granted);
    const failed = (await db.pool.query(`select count(*)::int as n from reconcile_events where organization_id = $1::uuid and result = 'error'`, [orgId])).rows[0].n;
    expect(failed).toBe(1);
  });
});
