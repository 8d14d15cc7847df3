// The revocation guard under concurrency: per-user items revoked by two reconcilers at once
// (as two replicas would) never overshoot the window's limit, and revocations of one
// organization reach the target concurrently (the guard reserves quota in a short
// transaction instead of holding the organization's lock across the target call).
import { makeLogger } from '../src/log.js';
import { logSink } from './helpers/logScan.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReconciler } from '../src/reconciler/index.js';
import { reserveRevocation, reserveRevocations } from '../src/reconciler/guard.js';
import { makeReconcilerStore, openReconcilerStore } from '../src/store/reconcilerStore.js';
import { revokedInWindow } from '../src/store/revocationGuard.js';
import { revocationsHeld } from '../src/metrics.js';
import { markOrganization } from '../src/store/reconcileQueue.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { addUsersEach, createOrg, updateUser, waitFor } from './helpers/desired.js';
import { startHttpTarget, type HttpTargetServer } from './helpers/httpTarget.js';
import { loadConfig } from '../src/config.js';

let db: TestDatabase;
/** The reconciler's statements over the test database. */
const store = () => makeReconcilerStore(db.pool);
let target: HttpTargetServer;
const stop = new AbortController();
let running: Promise<void>[] = [];
const log = makeLogger(process.env.TEST_LOG_LEVEL ?? 'info', logSink('reconciler.guard.test.ts'));
const settings = { pollMs: 50, leaseMs: 2000, retryBaseMs: 50, retryMaxMs: 400, concurrency: 8 };
const LATENCY_MS = 40;

const spec = (revocationGuard: Record<string, unknown>) => ({
  target: { type: 'http', http: { baseUrl: target.baseUrl, retryBaseDelay: '5ms', maxRetries: 2 } },
  revocationGuard,
});
const deletes = (org: string) => target.writes(org).filter((w) => w.method === 'DELETE');
/** Smallest gap between consecutive DELETE arrivals: below the target's latency only if two overlapped. */
const minGap = (org: string) => {
  const at = deletes(org).map((w) => w.at).sort((a, b) => a - b);
  return Math.min(...at.slice(1).map((t, i) => t - at[i]));
};

async function provision(slug: string, guard: Record<string, unknown>, n: number): Promise<{ org: string; ids: string[] }> {
  const org = await createOrg(db.pool, slug, spec(guard));
  const ids = await addUsersEach(db.pool, org, Array.from({ length: n }, (_, i) => `${slug}${i}@x.io`));
  await waitFor(() => target.members(slug).length === n, 10_000, `${n} members of ${slug}`);
  return { org, ids };
}

/** Deactivates each user in its own transaction: one per-user item each, all due at once. */
const deactivateEach = (org: string, ids: string[]) => Promise.all(ids.map((id) => updateUser(db.pool, org, id, { active: false })));

beforeAll(async () => {
  db = await createTestDatabase();
  target = await startHttpTarget();
  target.latencyMs = LATENCY_MS;
  running = ['guard-a', 'guard-b'].map((workerId) => startReconciler({ openStore: (max) => openReconcilerStore(db.url, max), databaseUrl: db.url, log, signal: stop.signal, config: loadConfig(), workerId, settings }));
});
afterAll(async () => {
  stop.abort();
  await Promise.all(running);
  await target.close();
  await db.drop();
});

describe('revocation guard under concurrency', () => {
  it('concurrent per-user revocations on two reconcilers stop exactly at the limit', async () => {
    const { org, ids } = await provision('lim', { maxCount: 5, maxFraction: null }, 24);
    await deactivateEach(org, ids.slice(0, 16));
    const held = async () => (await db.pool.query(`select count(*)::int as n from reconcile_holds where organization_id = $1`, [org])).rows[0].n;
    await waitFor(async () => (await held()) === 11, 10_000, 'eleven held');
    await waitFor(async () => (await db.pool.query(`select 1 from reconcile_queue where organization_id = $1 and user_id is not null`, [org])).rowCount === 0, 10_000, 'queue drained');
    const gauge = async () => (await revocationsHeld.get()).values.find((v) => v.labels.organization === 'lim')?.value;
    await waitFor(async () => (await gauge()) === 11, 5000, 'the held gauge to count all eleven');
    expect(deletes('lim')).toHaveLength(5);
    expect(target.members('lim')).toHaveLength(19);
    expect(await revokedInWindow(db.pool, org, 3_600_000)).toBe(5);
    expect((await db.pool.query(`select count(*)::int as n from reconcile_guard_reservations where organization_id = $1`, [org])).rows[0].n).toBe(0);
  });

  it('revocations within the limit reach the target concurrently', async () => {
    const { org, ids } = await provision('wide', { maxCount: 100, maxFraction: null }, 16);
    await deactivateEach(org, ids);
    await waitFor(() => deletes('wide').length === 16, 10_000, 'sixteen revocations');
    expect(minGap('wide')).toBeLessThan(LATENCY_MS);
    expect(await revokedInWindow(db.pool, org, 3_600_000)).toBe(16);
    expect(target.maxConcurrentWrites).toBe(1); // never two writes to one member at once
  });

  it('with the guard disabled, revocations take no organization lock', async () => {
    const { org, ids } = await provision('off', { enabled: false }, 16);
    await deactivateEach(org, ids);
    await waitFor(() => deletes('off').length === 16, 10_000, 'sixteen revocations');
    expect(minGap('off')).toBeLessThan(LATENCY_MS);
    expect((await db.pool.query(`select count(*)::int as n from reconcile_guard_reservations where organization_id = $1`, [org])).rows[0].n).toBe(0);
  });

  it('a full pass\'s reservation and per-user reservations share the window: together never over the limit', async () => {
    const org = await createOrg(db.pool, 'shared-window', spec({ maxCount: 5, maxFraction: null }));
    const guard = { enabled: true, maxCount: 5, maxFraction: null, window: 3_600_000 } as Parameters<typeof reserveRevocation>[2];
    // A full pass planning four revocations reserves them before its target calls…
    const full = await reserveRevocations(store(), org, guard, 100, ['f1@x.io', 'f2@x.io', 'f3@x.io', 'f4@x.io']);
    expect(full.decision.hold).toBe(false);
    expect(full.ids?.size).toBe(4);
    // …so per-user passes (any replica) revoking meanwhile get only the one left.
    const users = await Promise.all(Array.from({ length: 8 }, (_, i) => reserveRevocation(store(), org, guard, 100, `u${i}@x.io`)));
    expect(users.filter((r) => !r.decision.hold)).toHaveLength(1);
    // And a full pass after per-user reservations filled the window holds all of its revocations.
    const late = await reserveRevocations(store(), org, guard, 100, ['g1@x.io']);
    expect(late.decision).toMatchObject({ hold: true, revokedInWindow: 5, limit: 5 });
    expect(await revokedInWindow(db.pool, org, 3_600_000)).toBe(5);
  });

  it('two reconcilers plus a resync: a full pass revoking while per-user passes revoke never exceeds the limit', async () => {
    const { org, ids } = await provision('mixed', { maxCount: 5, maxFraction: null }, 20);
    try {
      // A: four members deactivated without per-user items, so only a full pass revokes them;
      // the target holds their DELETEs in flight for 1.5 s.
      target.latencyMs = 1500;
      await db.pool.query(`update scim_users set active = false where id = any($1::uuid[])`, [ids.slice(0, 4)]);
      await markOrganization(db.pool, org);
      await waitFor(() => deletes('mixed').length >= 1, 15_000, 'the full pass to start revoking');
      // B: eight more, each its own per-user item, answered at once by the target.
      target.latencyMs = 0;
      await deactivateEach(org, ids.slice(4, 12));
      await waitFor(async () => (await db.pool.query(`select 1 from reconcile_queue where organization_id = $1`, [org])).rowCount === 0, 15_000, 'queue drained');
      await waitFor(async () => (await db.pool.query(`select 1 from reconcile_guard_reservations where organization_id = $1`, [org])).rowCount === 0, 15_000, 'reservations released');
      expect(deletes('mixed')).toHaveLength(5);
      expect(await revokedInWindow(db.pool, org, 3_600_000)).toBe(5);
      expect(target.members('mixed')).toHaveLength(15);
    } finally {
      target.latencyMs = LATENCY_MS;
    }
  });
});
