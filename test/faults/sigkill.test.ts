// SIGKILL of `scimsync start` mid-load, then a restart on the same port (issue 10): what the
// killed process acknowledged is durable (it answers only after commit), the load goes on
// against the new process, and its reconciler finishes what the killed one had claimed once
// the claims' leases expire — the target converges.
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/desired.js';
import { QUICK, deprecations, createTokenFor, lostWrites, newLedger, sleep, spawnScimsync, statusSummary, writer, useFaultRig } from './helpers.js';

const rig = useFaultRig(createTestDatabase, (db) => db.drop());
const { procs } = rig;

describe('SIGKILL of scimsync mid-load', () => {
  it('loses no acknowledged write and converges after a restart', async () => {
    const env = { DATABASE_URL: rig.db.url, RECONCILER_POLL_MS: '200', RECONCILER_LEASE_MS: '2000', RECONCILER_RETRY_BASE_MS: '100' };
    rig.target.latencyMs = 20; // target calls in flight at the kill
    let proc = await spawnScimsync(['start', '--config', rig.config.file], env);
    procs.push(proc);
    await proc.ready();
    const token = await createTokenFor(rig.db.url, 'acme');
    const base = `${proc.url}/scim/v2/acme`;
    const ledger = newLedger();
    const stop = { stopped: false };
    const writers = Array.from({ length: QUICK ? 4 : 8 }, (_, i) => writer([base], token, `k${i}`, ledger, stop));
    const kills = QUICK ? 1 : 3;
    const restartMs: number[] = [];
    for (let k = 0; k < kills; k++) {
      await sleep(QUICK ? 1500 : 4000);
      proc.child.kill('SIGKILL');
      await proc.exited;
      const at = Date.now();
      proc = await spawnScimsync(['start', '--config', rig.config.file], env, proc.port);
      procs.push(proc);
      await proc.ready();
      restartMs.push(Date.now() - at);
    }
    await sleep(QUICK ? 1500 : 4000);
    stop.stopped = true;
    await Promise.all(writers);
    const lost = await lostWrites(ledger, (sql, values) => rig.db.pool.query(sql, values));
    console.log(`FAULTS sigkill ${JSON.stringify({ kills, requests: ledger.requests, statuses: statusSummary(ledger), acknowledgedCreates: ledger.created.size, other5xx: ledger.bad.length, acknowledgedWritesLost: lost.length, restartToReadyMs: restartMs })}`);
    expect(ledger.bad.slice(0, 5)).toEqual([]);
    expect(lost).toEqual([]);
    expect(ledger.created.size).toBeGreaterThan(20);
    const { rows } = await rig.db.pool.query<{ n: number }>(`select count(*)::int as n from scim_users where deleted_at is null and active`);
    await waitFor(() => rig.target.members('acme').length === rows[0].n, 60_000, `target converges to ${rows[0].n} members (has ${rig.target.members('acme').length})`);
    expect(deprecations(procs)).toEqual([]);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    rig.target.latencyMs = 0;
  });
});
