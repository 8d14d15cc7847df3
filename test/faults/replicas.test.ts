// Two ingress processes and two reconciler processes on one database under SCIM load (issue
// 10): creations and deletions spread over both ingresses while both reconcilers share the
// queue. The target ends with exactly the live users, and no member was granted or revoked
// twice (each operation reached the target once) — per-member locks and queue claims hold
// across processes.
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/desired.js';
import { QUICK, deprecations, createTokenFor, newLedger, scimRequest, sleep, spawnScimsync, statusSummary, useFaultRig } from './helpers.js';

const rig = useFaultRig(createTestDatabase, (db) => db.drop());
const { procs } = rig;

describe('two ingress and two reconciler processes on one database', () => {
  it('converge under load with no duplicate or missed target operation', async () => {
    const env = { DATABASE_URL: rig.db.url, RECONCILER_POLL_MS: '200', RECONCILER_LEASE_MS: '3000', RECONCILER_RETRY_BASE_MS: '100' };
    rig.target.latencyMs = 5;
    for (const i of [1, 2]) procs.push(await spawnScimsync(['start', '--config', rig.config.file], { ...env, RECONCILER_ENABLED: 'false' }));
    for (const i of [1, 2]) procs.push(await spawnScimsync(['reconcile'], { ...env, RECONCILER_WORKER_ID: `r${i}` }));
    await Promise.all(procs.map((p) => p.ready()));
    const token = await createTokenFor(rig.db.url, 'acme');
    const bases = procs.slice(0, 2).map((p) => `${p.url}/scim/v2/acme`);
    const ledger = newLedger();
    const created = new Map<string, string>(); // email → id
    const deleted = new Set<string>();
    const started = Date.now();
    const durationMs = QUICK ? 3000 : 15_000;
    await Promise.all(
      Array.from({ length: QUICK ? 4 : 8 }, async (_, w) => {
        for (let n = 0; Date.now() - started < durationMs; n++) {
          const base = bases[n % 2]!;
          const email = `r${w}-${n}@replicas.example`;
          const o = await scimRequest(base, token, 'POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: email });
          ledger.requests++;
          ledger.statuses.set(o.status, (ledger.statuses.get(o.status) ?? 0) + 1);
          if (o.status !== 201) continue;
          created.set(email, o.body.id);
          // Every third user is deleted again, through the other ingress, some before their grant.
          if (n % 3 === 2) {
            const d = await scimRequest(bases[(n + 1) % 2]!, token, 'DELETE', `/Users/${o.body.id}`);
            ledger.requests++;
            ledger.statuses.set(d.status, (ledger.statuses.get(d.status) ?? 0) + 1);
            if (d.status === 204) deleted.add(email);
          }
        }
      }),
    );
    const live = [...created.keys()].filter((e) => !deleted.has(e)).sort();
    const convergeStart = Date.now();
    await waitFor(() => rig.target.members('acme').length === live.length, 60_000, `convergence (${rig.target.members('acme').length}/${live.length})`);
    await waitFor(async () => (await rig.db.pool.query(`select 1 from reconcile_queue`)).rowCount === 0, 30_000, 'queue drained');
    const convergeMs = Date.now() - convergeStart;
    await sleep(500);
    expect(rig.target.members('acme').map((m) => m.email)).toEqual(live);
    const writes = rig.target.writes('acme');
    const count = (method: string) => {
      const m = new Map<string, number>();
      for (const w of writes) if (w.method === method) m.set(w.email!, (m.get(w.email!) ?? 0) + 1);
      return m;
    };
    const puts = count('PUT');
    const dels = count('DELETE');
    const duplicates = [...puts, ...dels].filter(([, n]) => n > 1);
    const missed = live.filter((e) => !puts.has(e));
    const { rows } = await rig.db.pool.query<{ worker: string; n: number }>(`select worker, count(*)::int as n from reconcile_events group by worker order by worker`);
    console.log(`FAULTS replicas ${JSON.stringify({ requests: ledger.requests, statuses: statusSummary(ledger), created: created.size, deleted: deleted.size, targetPuts: [...puts.values()].reduce((a, b) => a + b, 0), targetDeletes: [...dels.values()].reduce((a, b) => a + b, 0), duplicates: duplicates.length, missed: missed.length, convergeAfterLoadMs: convergeMs, eventsByWorker: rows })}`);
    expect(ledger.statuses.get(500) ?? 0).toBe(0);
    expect(duplicates).toEqual([]);
    expect(missed).toEqual([]);
    expect(rig.target.maxConcurrentWrites).toBe(1);
    expect(rows.map((r) => r.worker)).toEqual(['r1', 'r2']);
    expect(deprecations(procs)).toEqual([]);
    for (const p of procs) p.child.kill('SIGTERM');
    expect(await Promise.all(procs.map((p) => p.exited))).toEqual([0, 0, 0, 0]);
    rig.target.latencyMs = 0;
  });
});
