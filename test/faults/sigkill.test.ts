// SIGKILL of `scimsync start` mid-load, then a restart on the same port (issue 10): what the
// killed process acknowledged is durable (it answers only after commit), the load goes on
// against the new process, and its reconciler finishes what the killed one had claimed once
// the claims' leases expire — the target converges.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/desired.js';
import { startHttpTarget, type HttpTargetServer } from '../helpers/httpTarget.js';
import { QUICK, deprecations, createTokenFor, lostWrites, newLedger, scimConfigFile, sleep, spawnScimsync, statusSummary, writer, type ScimsyncProcess } from './helpers.js';

let db: TestDatabase;
let target: HttpTargetServer;
let config: { file: string; remove(): Promise<void> };
const procs: ScimsyncProcess[] = [];

beforeAll(async () => {
  [db, target] = await Promise.all([createTestDatabase(), startHttpTarget()]);
  config = await scimConfigFile('acme', target.baseUrl);
}, 120_000);

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await target?.close();
  await config?.remove();
  await db?.drop();
});

describe('SIGKILL of scimsync mid-load', () => {
  it('loses no acknowledged write and converges after a restart', async () => {
    const env = { DATABASE_URL: db.url, RECONCILER_POLL_MS: '200', RECONCILER_LEASE_MS: '2000', RECONCILER_RETRY_BASE_MS: '100' };
    target.latencyMs = 20; // target calls in flight at the kill
    let proc = await spawnScimsync(['start', '--config', config.file], env);
    procs.push(proc);
    await proc.ready();
    const token = await createTokenFor(db.url, 'acme');
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
      proc = await spawnScimsync(['start', '--config', config.file], env, proc.port);
      procs.push(proc);
      await proc.ready();
      restartMs.push(Date.now() - at);
    }
    await sleep(QUICK ? 1500 : 4000);
    stop.stopped = true;
    await Promise.all(writers);
    const lost = await lostWrites(ledger, (sql, values) => db.pool.query(sql, values));
    console.log(`FAULTS sigkill ${JSON.stringify({ kills, requests: ledger.requests, statuses: statusSummary(ledger), acknowledgedCreates: ledger.created.size, other5xx: ledger.bad.length, acknowledgedWritesLost: lost.length, restartToReadyMs: restartMs })}`);
    expect(ledger.bad.slice(0, 5)).toEqual([]);
    expect(lost).toEqual([]);
    expect(ledger.created.size).toBeGreaterThan(20);
    const { rows } = await db.pool.query<{ n: number }>(`select count(*)::int as n from scim_users where deleted_at is null and active`);
    await waitFor(() => target.members('acme').length === rows[0].n, 60_000, `target converges to ${rows[0].n} members (has ${target.members('acme').length})`);
    expect(deprecations(procs)).toEqual([]);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    target.latencyMs = 0;
  });
});
