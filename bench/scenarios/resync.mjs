// Scenario 7: full resync of one organization of `resyncMembers` members against a real HTTP
// target (own process), with no drift and with 1% drift (every 100th member removed from the
// target behind the IdP's back, so the pass must grant them again). The reconciler runs as
// `node dist/main.js reconcile --once` (the same code `start` runs), so its wall time and peak
// RSS (VmHWM, sampled every 50 ms) are its own. Same method as bench/reconciler.ts `resync`
// (the reconciler engineer's standalone tool), with SCIM-shaped users and drift added.
import { freshDatabase, median, memoryOf, now, sleep, spawnNode, stopChild } from '../lib/common.mjs';
import { seedOurs, startOurs, startTarget, withClient } from '../lib/servers.mjs';
import { row } from '../lib/report.mjs';

/**
 * GET `url`, or POST `body` as JSON when given; resolves the JSON answer.
 * @param {string} url
 * @param {object} [body]
 * @returns {Promise<any>}
 */
async function post(url, body) {
  const res = await fetch(url, { method: body === undefined ? 'GET' : 'POST', headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  return res.json();
}

/**
 * `node dist/main.js reconcile --once`: its wall time (s) and peak RSS (MB, sampled).
 * @param {string} db  database URL
 * @param {number} timeoutMs
 */
async function reconcileOnce(db, timeoutMs) {
  // BENCH_CPU_PROF=<dir>: the pass writes a V8 CPU profile there, as ours does in servers.mjs.
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawnNode([...prof, 'dist/main.js', 'reconcile', '--once'], { DATABASE_URL: db, LOG_LEVEL: 'info' }, { name: 'reconcile' });
  const t = now();
  let hwm = 0;
  /** @type {Promise<number | null>} */
  const exited = new Promise((r) => child.once('exit', (code) => r(code)));
  const until = Date.now() + timeoutMs;
  /** @type {number | null | undefined} */
  let code;
  while (code === undefined) {
    const m = await memoryOf(child.pid);
    if (m.hwmMb) hwm = Math.max(hwm, m.hwmMb);
    code = await Promise.race([exited, sleep(50).then(() => undefined)]);
    if (code === undefined && Date.now() > until) {
      await stopChild(child);
      throw new Error(`reconcile --once did not finish within ${timeoutMs} ms`);
    }
  }
  if (code !== 0) throw new Error(`reconcile --once exited ${code}: ${child.tail()}`);
  return { wall: (now() - t) / 1000, hwm };
}

/** @param {import('../run.mjs').ScenarioContext} ctx */
export async function resyncScenario({ adminUrl, P, say, notes }) {
  const M = P.resyncMembers;
  const db = await freshDatabase(adminUrl, 'bench_ours_resync');
  const target = await startTarget();
  const spec = { organization: 'rs', target: { type: 'http', http: { baseUrl: target.url } }, revocationGuard: { enabled: false }, resyncInterval: '1h' };
  try {
    say(`7: seeding ${M} users and the same ${M} members in the target`);
    const ours = await startOurs({ databaseUrl: db, specs: [spec], env: { RECONCILER_ENABLED: 'false' } });
    await seedOurs(ours, 'rs', 'rsu', M);
    await stopChild(ours.child);
    await post(`${target.url}/_bench/seed`, { org: 'rs', prefix: 'rsu', count: M });
    await fetch(`${target.url}/orgs/rs/members/rsutemplate-0%40example.com`, { method: 'PUT', body: JSON.stringify({ email: 'rsutemplate-0@example.com', role: 'member', teams: [] }) });
    const orgId = await withClient(db, async (c) => (await c.query(`select id from organizations where slug = 'rs'`)).rows[0].id);
    const queueResync = () =>
      withClient(db, (c) =>
        c.query(
          `insert into reconcile_queue (organization_id, user_id, resync) values ($1::uuid, null, true)
           on conflict (organization_id, coalesce(user_id, '00000000-0000-0000-0000-000000000000'::uuid)) do update set run_at = clock_timestamp()`,
          [orgId],
        ),
      );
    const status = () => withClient(db, async (c) => (await c.query('select last_full_sync_seconds as s, last_plan as p from reconcile_status where organization_id = $1::uuid', [orgId])).rows[0]);

    // Issue 11: a pass's cost must not grow with the event history. 50,000 earlier events of
    // this organization's members (the full run's size; a tenth in --quick), older than any pass.
    const history = P.resyncMembers >= 100_000 ? 50_000 : 5_000;
    await withClient(db, (c) =>
      c.query(
        `insert into reconcile_events (organization_id, email, operation, result, role, teams, approved, at)
         select $1::uuid, 'rsu' || (i % $2::int) || '@example.com', (array['grant','update','revoke'])[1 + i % 3], 'ok', 'member', '{}', false,
                clock_timestamp() - interval '1 day' + i * interval '1 ms'
           from generate_series(1, $3::int) i`,
        [orgId, M, history],
      ),
    );
    notes.push(`7: the organization's event history holds ${history} earlier events before the first pass (and grows by each drift pass's grants)`);
    /** @typedef {{ wall: number, hwm: number, pass: number | null, plan: unknown, removed?: number }} Pass */
    /** @type {{ clean: Pass[], drift: Pass[] }} */
    const res = { clean: [], drift: [] };
    for (let r = 0; r < P.resyncRuns; r++) {
      await queueResync();
      const a = await reconcileOnce(db, 300_000);
      const sa = await status();
      res.clean.push({ ...a, pass: sa?.s ?? null, plan: sa?.p });
      say(`7 run ${r + 1}: no drift: pass ${sa?.s?.toFixed(2)} s, wall ${a.wall.toFixed(2)} s, peak RSS ${a.hwm} MB, plan ${JSON.stringify(sa?.p)}`);

      const { removed } = await post(`${target.url}/_bench/drift`, { org: 'rs', every: 100 });
      await queueResync();
      const b = await reconcileOnce(db, 300_000);
      const sb = await status();
      const after = await post(`${target.url}/_bench/count?org=rs`);
      if (after.count !== M + 1) notes.push(`7 run ${r + 1}: target holds ${after.count} members after the drift pass, expected ${M + 1}`);
      res.drift.push({ ...b, pass: sb?.s ?? null, plan: sb?.p, removed });
      say(`7 run ${r + 1}: 1% drift (${removed} removed): pass ${sb?.s?.toFixed(2)} s, wall ${b.wall.toFixed(2)} s, peak RSS ${b.hwm} MB, plan ${JSON.stringify(sb?.p)}`);
    }
    /** @type {(xs: Pass[], k: 'wall' | 'pass') => number | null} */
    const med = (xs, k) => median(xs.map((x) => x[k]));
    /** @param {Pass[]} xs */
    const maxHwm = (xs) => (xs.length && xs.every((x) => Number.isFinite(x.hwm)) ? Math.max(...xs.map((x) => x.hwm)) : null);
    notes.push('7: "pass" is reconcile_status.last_full_sync_seconds (the pass itself); "wall" is the whole `scimsync reconcile --once` process, start-up and migrations check included');
    return [
      row({ scenario: 7, metric: `full resync, ${M} members, no drift: pass`, unit: 's', better: 'lower', ours: med(res.clean, 'pass'), target: '≤1 s', met: med(res.clean, 'pass') != null && Number(med(res.clean, 'pass')) <= 1 }),
      row({ scenario: 7, metric: 'full resync, no drift: process wall time', unit: 's', better: 'lower', ours: med(res.clean, 'wall'), target: '≤5 s (whole process)', met: med(res.clean, 'wall') != null && Number(med(res.clean, 'wall')) <= 5 }),
      row({ scenario: 7, metric: 'full resync, no drift: reconciler peak RSS (max of runs)', unit: 'MB', better: 'lower', ours: maxHwm(res.clean), target: '≤150 MB', met: maxHwm(res.clean) != null && Number(maxHwm(res.clean)) <= 150 }),
      row({ scenario: 7, metric: `full resync, 1% drift (${res.drift[0]?.removed} grants), ${history}+ events in history: pass`, unit: 's', better: 'lower', ours: med(res.drift, 'pass'), target: '≤3 s', met: med(res.drift, 'pass') != null && Number(med(res.drift, 'pass')) <= 3 }),
      row({ scenario: 7, metric: 'full resync, 1% drift: process wall time', unit: 's', better: 'lower', ours: med(res.drift, 'wall') }),
      row({ scenario: 7, metric: 'full resync, 1% drift: reconciler peak RSS (max of runs)', unit: 'MB', better: 'lower', ours: maxHwm(res.drift), target: '≤300 MB', met: maxHwm(res.drift) != null && Number(maxHwm(res.drift)) <= 300 }),
    ];
  } finally {
    await stopChild(target.child);
  }
}
