// Postgres restarted under SCIM write load (issue 10): a real PostgreSQL of this test's own is
// stopped — fast shutdown (sessions terminated, 57P01) and immediate shutdown (a crash,
// recovery on start) — and started again on its port while two `scimsync start` processes,
// one with its reconciler and one ingress-only, take writes. Every 2xx-acknowledged write must
// be there afterwards; every failure must be 503 + Retry-After with a SCIM error body, never
// another 5xx; both processes must survive; /readyz must fail during the outage; the
// reconciler must pause, resume and converge. Prints the figures docs/faults.md quotes.
import { describe, expect, it } from 'vitest';
import { makePool, type Pool } from '../../src/store/pool.js';
import { waitFor } from '../helpers/desired.js';
import {
  QUICK, deprecations, createTokenFor, lostWrites, newLedger, scimRequest, sleep, spawnScimsync, startRestartablePostgres, statusSummary, writer,
  useFaultRig,
} from './helpers.js';

const rig = useFaultRig(startRestartablePostgres, (pg) => pg.destroy());
const { procs } = rig;

/** Milliseconds until `base` answers a SCIM read with 200 again. */
async function recovery(base: string, token: string, since: number): Promise<number> {
  for (;;) {
    if ((await scimRequest(base, token, 'GET', '/Users?count=1')).status === 200) return Date.now() - since;
    if (Date.now() - since > 60_000) throw new Error(`${base} did not recover within 60 s`);
    await sleep(25);
  }
}

describe('Postgres restart under write load', () => {
  it('loses no acknowledged write, answers 503 + Retry-After (never 500) and recovers by itself', async () => {
    const env = {
      DATABASE_URL: rig.db.url, RECONCILER_POLL_MS: '200', RECONCILER_LEASE_MS: '3000', RECONCILER_RETRY_BASE_MS: '100',
      RECONCILER_RETRY_MAX_MS: '2000', SHUTDOWN_TIMEOUT_MS: '5000',
    };
    const full = await spawnScimsync(['start', '--config', rig.config.file], env);
    procs.push(full);
    await full.ready();
    const ingress = await spawnScimsync(['start', '--config', rig.config.file], { ...env, RECONCILER_ENABLED: 'false' });
    procs.push(ingress);
    await ingress.ready();
    const token = await createTokenFor(rig.db.url, 'acme');
    // Target calls take a while, so reconcile items are mid-pass (holding a transaction, then
    // finishing their queue rows) when Postgres goes away.
    rig.target.latencyMs = 30;
    const bases = procs.map((p) => `${p.url}/scim/v2/acme`);

    const ledger = newLedger();
    const stop = { stopped: false };
    const writers = Array.from({ length: QUICK ? 4 : 8 }, (_, i) => writer(bases, token, `w${i}`, ledger, stop));
    const rounds: ('fast' | 'immediate')[] = QUICK ? ['fast', 'immediate'] : ['fast', 'immediate', 'fast', 'immediate', 'fast'];
    const loadMs = QUICK ? 1500 : 4000;
    const downMs = QUICK ? 1500 : 5000;
    const recoveries: { mode: string; ms: number[] }[] = [];
    const readyDuringOutage: number[] = [];
    for (const mode of rounds) {
      await sleep(loadMs);
      await rig.db.stop(mode);
      await sleep(downMs / 2);
      for (const p of procs) readyDuringOutage.push(await fetch(`${p.url}/readyz`).then((r) => r.status, () => 0)); // 0: no answer (the process died)
      await sleep(downMs / 2);
      await rig.db.start();
      const up = Date.now();
      recoveries.push({ mode, ms: await Promise.all(bases.map((b) => recovery(b, token, up))) });
      for (const p of procs) expect(p.child.exitCode, p.output.join('').slice(-3000)).toBeNull();
    }
    await sleep(loadMs);
    stop.stopped = true;
    await Promise.all(writers);

    const pool: Pool = makePool(rig.db.url, 2);
    try {
      const lost = await lostWrites(ledger, (sql, values) => pool.query(sql, values));
      const figures = {
        restarts: rounds.join(','),
        requests: ledger.requests,
        statuses: statusSummary(ledger),
        acknowledgedCreates: ledger.created.size,
        other5xx: ledger.bad.length,
        acknowledgedWritesLost: lost.length,
        recoveryMs: recoveries,
        readyzDuringOutage: readyDuringOutage,
      };
      console.log(`FAULTS postgres-restart ${JSON.stringify(figures)}`);
      expect(ledger.bad.slice(0, 5)).toEqual([]);
      expect(lost).toEqual([]);
      expect(ledger.created.size).toBeGreaterThan(20);
      expect(readyDuringOutage.every((s) => s === 503)).toBe(true);
      for (const p of procs) expect((await fetch(`${p.url}/readyz`)).status).toBe(200);

      // The reconciler paused during the outages and lost no item: the target converges.
      const { rows } = await pool.query<{ n: number }>(`select count(*)::int as n from scim_users where deleted_at is null and active`);
      await waitFor(() => rig.target.members('acme').length === rows[0].n, 60_000, `target converges to ${rows[0].n} members (has ${rig.target.members('acme').length})`);
    } finally {
      await pool.end();
    }
    expect(deprecations(procs)).toEqual([]);
    for (const p of procs) p.child.kill('SIGTERM');
    expect(await Promise.all(procs.map((p) => p.exited))).toEqual([0, 0]);
  });
});
