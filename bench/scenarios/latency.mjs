// Scenario 6: provisioning latency under load, in the two topologies scimsync ships: the Helm
// chart's default, an ingress (`scimsync start`, RECONCILER_ENABLED=false) and a reconciler
// (`scimsync reconcile`) as separate processes (deployment-ingress.yaml,
// deployment-reconciler.yaml), which the target row measures; and `npm start`'s one process
// with both (the chart's combined.enabled), reported beside it. The organization's target is a
// real HTTP server (own process).
// While POST /Users runs at a fixed rate (scenario 1-style traffic, its own process), users
// are deactivated via SCIM PATCH (Entra's body) at `rate`/s; per user we measure the time from
// the SCIM response to the target receiving the DELETE (both clocks: performance.timeOrigin +
// performance.now() on one machine), and from the commit of the deactivation (the user row's
// last_modified, clock_timestamp() in the committing statement, Postgres's clock on the same
// machine) to the DELETE's arrival — the design's definition of provisioning latency.
import { freshDatabase, memoryOf, now, percentile, sleep, spawnNode, stopChild, waitForHttp } from '../lib/common.mjs';
import { userBody } from '../lib/load.mjs';
import { startOurs, startTarget, withClient } from '../lib/servers.mjs';
import { row } from '../lib/report.mjs';

/**
 * @param {{ url: string }} target
 * @param {string} org
 * @returns {Promise<{ count: number, deletes: number }>}
 */
async function targetCount(target, org) {
  return /** @type {{ count: number, deletes: number }} */ (await (await fetch(`${target.url}/_bench/count?org=${org}`)).json());
}

/**
 * @param {string} what  for the timeout's message
 * @param {() => Promise<boolean>} cond
 * @param {number} timeoutMs
 */
async function waitUntil(what, cond, timeoutMs) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await cond()) return true;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** @param {import('../run.mjs').ScenarioContext} ctx */
export async function latencyScenario(ctx) {
  return [...(await latencyRun(ctx, 'separate')), ...(await latencyRun(ctx, 'combined'))];
}

/**
 * One run of scenario 6.
 * @param {import('../run.mjs').ScenarioContext} ctx
 * @param {'separate' | 'combined'} topology  separate: ingress and reconciler processes (the
 *   chart's default, the rows with targets); combined: one `scimsync start` with both
 */
async function latencyRun({ adminUrl, P, say, notes }, topology) {
  const N = P.deactivations;
  const rate = P.rate;
  const db = await freshDatabase(adminUrl, `bench_ours_latency_${topology}`);
  const target = await startTarget();
  const spec = { organization: 'lat', target: { type: 'http', http: { baseUrl: target.url } }, revocationGuard: { enabled: false }, resyncInterval: '1h' };
  const separate = topology === 'separate';
  const ours = await startOurs({ databaseUrl: db, specs: [spec], env: separate ? { RECONCILER_ENABLED: 'false' } : {} });
  /** @type {import('../lib/common.mjs').Child | undefined} */
  let rec;
  const tag = separate ? '6' : '6 (one process)';
  try {
    if (separate) {
      const { freePort } = await import(new URL('../../dist/store/embedded.js', import.meta.url).href);
      const port = await freePort();
      // BENCH_CPU_PROF=<dir>: the reconciler writes a V8 CPU profile there too (servers.mjs).
      const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
      rec = spawnNode([...prof, 'dist/main.js', 'reconcile'], { DATABASE_URL: db, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' }, { name: 'reconcile' });
      await waitForHttp(`http://127.0.0.1:${port}/readyz`, rec);
    }
    say(`${tag}: creating ${N} users through SCIM and waiting for their grants`);
    /** @type {string[]} */
    const ids = new Array(N);
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < N) {
          const i = next++;
          const res = await fetch(`${ours.url}/scim/v2/lat/Users`, {
            method: 'POST',
            headers: { authorization: `Bearer ${ours.tokens.lat}`, 'content-type': 'application/scim+json' },
            body: JSON.stringify(userBody('latu', i)),
          });
          if (res.status !== 201) throw new Error(`POST /Users: ${res.status} ${await res.text()}`);
          ids[i] = /** @type {{ id: string }} */ (await res.json()).id;
        }
      }),
    );
    await waitUntil(`${N} grants at the target`, async () => (await targetCount(target, 'lat')).count >= N, 180_000);

    const seconds = Math.ceil(N / rate) + 6;
    say(`${tag}: background POST /Users at ${rate}/s for ${seconds} s; deactivating ${N} users at ${rate}/s`);
    const bg = spawnNode(
      ['bench/lib/load.mjs', JSON.stringify({ url: ours.url, token: ours.tokens.lat, path: '/scim/v2/lat/Users', prefix: 'latbg', connections: 16, seconds, rate })],
      {},
      { name: 'load' },
    );
    let bgOut = '';
    bg.stdout.on('data', (d) => (bgOut += d));
    const bgDone = new Promise((r) => bg.once('exit', r));
    await sleep(2000);

    /** @type {Map<string, number>} */
    const responded = new Map();
    let failed = 0;
    /** Failed deactivations by HTTP status (or error code). @type {Record<string, number>} */
    const statuses = {};
    const t0 = now();
    /** @type {Promise<unknown>[]} */
    const inflight = [];
    for (let i = 0; i < N; i++) {
      const wait = t0 + (i * 1000) / rate - now();
      if (wait > 0) await sleep(wait);
      inflight.push(
        fetch(`${ours.url}/scim/v2/lat/Users/${ids[i]}`, {
          method: 'PATCH',
          headers: { authorization: `Bearer ${ours.tokens.lat}`, 'content-type': 'application/scim+json' },
          body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'Replace', path: 'active', value: false }] }),
        }).then(
          async (res) => {
            const t = now();
            await res.arrayBuffer();
            if (res.status < 300) responded.set(`latu${i}@example.com`, t);
            else {
              failed++;
              statuses[res.status] = (statuses[res.status] ?? 0) + 1;
            }
          },
          (/** @type {Error & { cause?: { code?: string } }} */ err) => {
            failed++;
            const code = err.cause?.code ?? err.name;
            statuses[code] = (statuses[code] ?? 0) + 1;
          },
        ),
      );
    }
    await Promise.all(inflight);
    const sentSeconds = (now() - t0) / 1000;
    await waitUntil(`${N} DELETEs at the target`, async () => (await targetCount(target, 'lat')).deletes >= responded.size, 60_000).catch((e) => notes.push(`${tag}: ${e.message}`));
    const deletes = /** @type {Record<string, number>} */ (await (await fetch(`${target.url}/_bench/deletes?org=lat`)).json());
    /** @type {number[]} */
    const lat = [];
    let missing = 0;
    for (const [email, t] of responded) {
      if (deletes[email] === undefined) missing++;
      else lat.push(deletes[email] - t);
    }
    const ingress = await memoryOf(ours.child.pid);
    const reconciler = rec ? await memoryOf(rec.pid) : undefined;
    await Promise.race([bgDone, sleep((seconds + 40) * 1000)]);
    const bgRes = bgOut ? JSON.parse(bgOut) : undefined;
    /** @type {number[]} */
    const events = await withClient(db, async (c) =>
      (await c.query(`select latency_ms as ms from reconcile_events where operation = 'revoke' and result = 'ok' and latency_ms is not null`)).rows.map((r) => r.ms),
    );
    const committed = await withClient(db, async (c) =>
      (await c.query(`select lower(user_name) as email, extract(epoch from last_modified) * 1000 as ms from scim_users where user_name like 'latu%' and not active`)).rows,
    );
    /** @type {number[]} */
    const fromCommit = [];
    for (const r of committed) if (deletes[r.email] !== undefined && responded.has(r.email)) fromCommit.push(deletes[r.email] - Number(r.ms));
    if (failed || missing) notes.push(`${tag}: ${failed} deactivation requests failed (${JSON.stringify(statuses)}), ${missing} deactivated users never got a DELETE`);
    notes.push(
      `${tag}: ${responded.size} deactivations sent in ${sentSeconds.toFixed(1)} s (${(responded.size / sentSeconds).toFixed(0)}/s) while background POST /Users ran at ${bgRes ? bgRes.rps.toFixed(0) : '?'}/s ` +
        `(target ${rate}/s, ${bgRes?.non2xx ?? '?'} non-2xx); negative values mean the DELETE arrived before the SCIM response reached the client`,
    );
    /** @param {number} q */
    const p = (q) => percentile(lat, q);
    const met = lat.length > 0 && Number(p(99)) <= 100 && !missing && !failed;
    /** @param {number} q */
    const ev = (q) => percentile(events, q);
    /** @param {number} q */
    const c = (q) => percentile(fromCommit, q);
    if (!separate) {
      // The one-process figures, for comparison: no targets (the shipped default is separate).
      return [
        row({ scenario: 6, metric: `one process (npm start): SCIM response → target DELETE, p50 / p99 below (${lat.length} users)`, unit: 'ms', better: 'lower', ours: p(50) }),
        row({ scenario: 6, metric: 'one process: SCIM response → target DELETE, p99', unit: 'ms', better: 'lower', ours: p(99) }),
        row({ scenario: 6, metric: 'one process: commit → target DELETE, p99', unit: 'ms', better: 'lower', ours: c(99) }),
        row({ scenario: 6, metric: 'one process: deactivation requests refused or failed', unit: 'requests', better: 'lower', ours: failed }),
        row({ scenario: 6, metric: 'one process: ingress+reconciler peak RSS (VmHWM)', unit: 'MB', better: 'lower', ours: ingress.hwmMb }),
      ];
    }
    return [
      row({ scenario: 6, metric: `SCIM response → target DELETE, p50 (${lat.length} users, ${rate}/s under load; ingress and reconciler processes)`, unit: 'ms', better: 'lower', ours: p(50) }),
      row({ scenario: 6, metric: 'SCIM response → target DELETE, p95', unit: 'ms', better: 'lower', ours: p(95) }),
      row({ scenario: 6, metric: 'SCIM response → target DELETE, p99', unit: 'ms', better: 'lower', ours: p(99), target: 'p99 ≤100 ms', met }),
      row({ scenario: 6, metric: 'SCIM response → target DELETE, max', unit: 'ms', better: 'lower', ours: lat.length ? Math.max(...lat) : null }),
      row({ scenario: 6, metric: `commit → target DELETE, p50 (${fromCommit.length} users)`, unit: 'ms', better: 'lower', ours: c(50) }),
      row({ scenario: 6, metric: 'commit → target DELETE, p95', unit: 'ms', better: 'lower', ours: c(95) }),
      row({ scenario: 6, metric: 'commit → target DELETE, p99', unit: 'ms', better: 'lower', ours: c(99), target: 'p99 ≤100 ms', met: fromCommit.length > 0 && Number(c(99)) <= 100 && !missing && !failed }),
      row({ scenario: 6, metric: 'commit → target DELETE, max', unit: 'ms', better: 'lower', ours: fromCommit.length ? Math.max(...fromCommit) : null }),
      row({ scenario: 6, metric: 'commit → target confirmed as the reconciler records it (reconcile_events.latency_ms), p99', unit: 'ms', better: 'lower', ours: ev(99) }),
      row({ scenario: 6, metric: 'deactivation requests refused or failed', unit: 'requests', better: 'lower', ours: failed, target: '0', met: failed === 0 }),
      row({ scenario: 6, metric: 'ingress process peak RSS (VmHWM)', unit: 'MB', better: 'lower', ours: ingress.hwmMb }),
      row({ scenario: 6, metric: 'reconciler process peak RSS (VmHWM)', unit: 'MB', better: 'lower', ours: reconciler?.hwmMb ?? null }),
    ];
  } finally {
    if (rec) await stopChild(rec);
    await stopChild(ours.child);
    await stopChild(target.child);
  }
}
