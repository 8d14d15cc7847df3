// Reconciler processes as real child processes: SIGKILL mid-pass then restart converges;
// two processes on one database never write the same member at the same time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { addUsers, addUsersEach, createOrg, waitFor } from './helpers/desired.js';
import { startHttpTarget, type HttpTargetServer } from './helpers/httpTarget.js';
import { spawnReconciler } from './helpers/reconcilerProcess.js';

let db: TestDatabase;
let target: HttpTargetServer;
const env = { RECONCILER_POLL_MS: '100', RECONCILER_LEASE_MS: '1000', RECONCILER_APPLY_CONCURRENCY: '2', RECONCILER_RETRY_BASE_MS: '100' };
const spec = (extra: Record<string, unknown> = {}) => ({ target: { type: 'http', http: { baseUrl: target.baseUrl, retryBaseDelay: '5ms' } }, ...extra });

beforeAll(async () => {
  [db, target] = await Promise.all([createTestDatabase(), startHttpTarget()]);
}, 60_000);
afterAll(async () => {
  await target.close();
  await db.drop();
});

describe('reconciler processes', () => {
  it('a process killed with SIGKILL mid-pass is replaced and the organization converges', async () => {
    target.latencyMs = 25;
    const org = await createOrg(db.pool, 'killed', spec());
    const names = Array.from({ length: 40 }, (_, i) => `k${String(i).padStart(2, '0')}@x.io`);
    await addUsers(db.pool, org, names); // one organization item: a full pass of 40 grants
    const first = spawnReconciler(db.url, { ...env, RECONCILER_WORKER_ID: 'first' });
    await target.waitForWrites(8, 10_000, 'killed');
    first.child.kill('SIGKILL');
    await first.exited;
    const partial = target.members('killed').length;
    expect(partial).toBeLessThan(40);
    const { rows } = await db.pool.query(`select locked_by from reconcile_queue where organization_id = $1 and user_id is null`, [org]);
    expect(rows[0]?.locked_by).toBe('first'); // the crashed worker's claim is still there…
    const second = spawnReconciler(db.url, { ...env, RECONCILER_WORKER_ID: 'second' });
    try {
      await waitFor(() => target.members('killed').length === 40, 15_000, 'convergence after restart'); // …until its lease expires
      const puts = target.writes('killed').filter((w) => w.method === 'PUT');
      expect(new Set(puts.map((w) => w.email)).size).toBe(40);
      expect(puts.length).toBeLessThanOrEqual(40 + 2); // at most the requests in flight at the kill repeat
      await waitFor(async () => (await db.pool.query(`select 1 from reconcile_queue where organization_id = $1`, [org])).rowCount === 0, 5000, 'queue drained');
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
      target.latencyMs = 0;
    }
  });

  it('two processes share the queue without ever applying the same member concurrently', async () => {
    target.reset();
    target.latencyMs = 10;
    const org = await createOrg(db.pool, 'pair', spec());
    const procs = [spawnReconciler(db.url, { ...env, RECONCILER_WORKER_ID: 'p1' }), spawnReconciler(db.url, { ...env, RECONCILER_WORKER_ID: 'p2' })];
    try {
      // Both running before the work arrives (a fixed pause was too short on a loaded machine):
      // each logs "reconciler serving" (info) once its worker loop has started.
      await waitFor(() => procs.every((p) => p.output.join('').includes('reconciler serving')), 20_000, 'both reconcilers started');
      const names = Array.from({ length: 60 }, (_, i) => `p${String(i).padStart(2, '0')}@x.io`);
      await addUsersEach(db.pool, org, names.slice(0, 30));
      await addUsers(db.pool, org, names.slice(30)); // organization item racing the user items
      await waitFor(() => target.members('pair').length === 60, 15_000, 'sixty members');
      await new Promise((r) => setTimeout(r, 300));
      const puts = target.writes('pair').filter((w) => w.method === 'PUT').map((w) => w.email);
      expect(puts.sort()).toEqual(names); // each exactly once
      expect(target.maxConcurrentWrites).toBe(1);
      const { rows } = await db.pool.query(`select worker, count(*)::int as n from reconcile_events where organization_id = $1 group by worker order by worker`, [org]);
      expect(rows.map((r) => r.worker)).toEqual(['p1', 'p2']);
    } finally {
      for (const p of procs) p.child.kill('SIGTERM');
      expect(await Promise.all(procs.map((p) => p.exited))).toEqual([0, 0]);
      target.latencyMs = 0;
    }
  });
});
