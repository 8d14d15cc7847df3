// A misbehaving target under a real `scimsync reconcile` process (issue 10): down then up,
// a storm of 429s with Retry-After, answers slower than the call timeout, answers that are
// not JSON. Each time the failures are counted (/metrics), the process stays up, and once the
// target behaves the organization converges.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { addUsersEach, createOrg, waitFor } from '../helpers/desired.js';
import { startHttpTarget, type HttpTargetServer } from '../helpers/httpTarget.js';
import { QUICK, metricSum, sleep, spawnScimsync, type ScimsyncProcess } from './helpers.js';

let db: TestDatabase;
let target: HttpTargetServer;
let proc: ScimsyncProcess;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  [db, target] = await Promise.all([createTestDatabase(), startHttpTarget()]);
  proc = await spawnScimsync(['reconcile'], {
    DATABASE_URL: db.url, RECONCILER_POLL_MS: '200', RECONCILER_LEASE_MS: '5000', RECONCILER_RETRY_BASE_MS: '100', RECONCILER_RETRY_MAX_MS: '1000',
  });
  await proc.ready();
}, 120_000);

afterAll(async () => {
  console.log(`FAULTS targets ${JSON.stringify(figures)}`);
  if (proc?.child.exitCode === null) proc.child.kill('SIGKILL');
  await target?.close();
  await db?.drop();
});

const metrics = async () => (await fetch(`${proc.url}/metrics`)).text();
const targetOutcomes = async (outcome: string) => metricSum(await metrics(), 'scimsync_target_requests_total', (l) => l.includes(`outcome="${outcome}"`));
const reconcileErrors = async () => metricSum(await metrics(), 'scimsync_reconcile_total', (l) => l.includes('result="error"'));
const users = (prefix: string) => Array.from({ length: QUICK ? 10 : 40 }, (_, i) => `${prefix}${String(i).padStart(2, '0')}@x.io`);

/** An organization whose first full pass is done, so only per-user items run afterwards. */
async function org(slug: string, http: Record<string, unknown> = {}): Promise<string> {
  const id = await createOrg(db.pool, slug, { target: { type: 'http', http: { baseUrl: target.baseUrl, retryBaseDelay: '10ms', ...http } } });
  await waitFor(async () => (await db.pool.query(`select 1 from reconcile_status where organization_id = $1 and last_full_sync_at is not null`, [id])).rowCount, 15_000, 'first full pass');
  return id;
}

async function converges(slug: string, names: string[]): Promise<number> {
  const started = Date.now();
  await waitFor(() => target.members(slug).length === names.length, 60_000, `${slug} converges (${target.members(slug).length}/${names.length})`);
  return Date.now() - started;
}

describe('misbehaving targets', () => {
  it('target down, then up: errors counted, no crash, converges', async () => {
    const id = await org('outage');
    const before = await targetOutcomes('network_error');
    target.mode = 'down';
    const names = users('down');
    await addUsersEach(db.pool, id, names);
    await sleep(QUICK ? 2000 : 6000);
    const networkErrors = (await targetOutcomes('network_error')) - before;
    expect(networkErrors).toBeGreaterThan(0);
    expect(proc.child.exitCode).toBeNull();
    target.mode = 'normal';
    figures.outage = { users: names.length, networkErrors, convergeAfterUpMs: await converges('outage', names) };
  });

  it('a 429 storm: every Retry-After is honoured, then converges', async () => {
    const id = await org('storm');
    target.requests.length = 0;
    target.failNext(QUICK ? 20 : 80, { status: 429, retryAfter: '1' });
    const names = users('storm');
    await addUsersEach(db.pool, id, names);
    const convergeMs = await converges('storm', names);
    const mine = target.requests.filter((r) => r.org === 'storm' && r.email);
    const throttled = mine.filter((r) => r.status === 429);
    expect(throttled.length).toBeGreaterThan(0);
    // The next request for the same member never came sooner than Retry-After (1 s).
    const gaps = throttled.map((r) => {
      const next = mine.slice(mine.indexOf(r) + 1).find((x) => x.email === r.email); // recorded in arrival order
      return next ? next.at - r.at : Infinity;
    });
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(950);
    figures.storm = { users: names.length, throttled: throttled.length, minGapAfter429Ms: Math.min(...gaps), convergeMs };
  });

  it('a target slower than the call timeout: timeouts counted, no crash, converges once it is fast', async () => {
    const id = await org('slow', { timeout: '300ms', maxRetries: 1 });
    const before = await targetOutcomes('network_error');
    target.latencyMs = 1500;
    const names = users('slow');
    await addUsersEach(db.pool, id, names);
    await sleep(QUICK ? 2500 : 6000);
    const timeouts = (await targetOutcomes('network_error')) - before;
    expect(timeouts).toBeGreaterThan(0);
    expect(proc.child.exitCode).toBeNull();
    target.latencyMs = 0;
    figures.slow = { users: names.length, timeouts, convergeAfterFastMs: await converges('slow', names) };
  });

  it('a target answering garbage: errors counted, no crash, converges once it answers properly', async () => {
    const id = await org('garbage');
    const before = await reconcileErrors();
    target.mode = 'garbage';
    const names = users('junk');
    await addUsersEach(db.pool, id, names);
    await sleep(QUICK ? 2000 : 6000);
    const errors = (await reconcileErrors()) - before;
    expect(errors).toBeGreaterThan(0);
    expect(proc.child.exitCode).toBeNull();
    target.mode = 'normal';
    figures.garbage = { users: names.length, reconcileErrors: errors, convergeAfterFixMs: await converges('garbage', names) };
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });
});
