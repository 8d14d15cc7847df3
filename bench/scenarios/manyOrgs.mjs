// Scenario 10: a SaaS hosting its customers — 5,000 organizations of 200 users each
// (`--quick`: 50), each with an HTTP target already holding its 200 members (no drift), the
// default resyncInterval (5m) and default reconciler settings. Organizations come from a
// ScimConfig file (as `scimsync start --config` declares them), users are seeded in SQL. One
// `scimsync reconcile` process (defaults, LOG_LEVEL=info) starts with every organization due,
// as after a fresh deployment: the first round of passes must finish within one resync
// interval, or resyncs fall behind schedule. /metrics of that process is then scraped: its
// size and series count, total and per organization.
import { freshDatabase, now, sleep, spawnNode, stopChild, waitForHttp } from '../lib/common.mjs';
import { scim, startOurs, startTarget, withClient } from '../lib/servers.mjs';
import { userBody } from '../lib/load.mjs';
import { row } from '../lib/report.mjs';

const RESYNC_INTERVAL_S = 300; // ScimConfig resyncInterval default (src/orgs/scimConfig.ts)
const MEMBERS = 200;

/** @param {import('../run.mjs').ScenarioContext} ctx */
export async function manyOrgsScenario({ adminUrl, P, say, notes }) {
  const N = P.orgs;
  const db = await freshDatabase(adminUrl, 'bench_ours_orgs');
  const target = await startTarget();
  try {
    const specs = Array.from({ length: N }, (_, j) => ({ organization: `o${j}`, target: { type: 'http', http: { baseUrl: target.url } } }));
    say(`10: declaring ${N} organizations`);
    const ours = await startOurs({ databaseUrl: db, specs, env: { RECONCILER_ENABLED: 'false' }, tokensFor: ['o0'] });
    const template = await scim(ours, 'o0', 'POST', '/Users', userBody('tmpl', 0));
    await stopChild(ours.child);
    say(`10: seeding ${N} × ${MEMBERS} users in SQL and ${MEMBERS} members per organization at the target`);
    await withClient(db, async (c) => {
      const stored = (await c.query(`select resource from scim_users where id = $1::uuid`, [template.id])).rows[0].resource;
      await c.query(`delete from scim_users where id = $1::uuid`, [template.id]);
      await c.query(`delete from reconcile_queue`);
      const step = 250;
      for (let from = 0; from < N; from += step) {
        await c.query(
          `insert into scim_users (organization_id, user_name, external_id, display_name, active, resource)
           select o.id, 'u' || i || '@example.com', 'ext-' || i, 'User ' || i, true,
                  jsonb_set(jsonb_set(jsonb_set($1::jsonb, '{userName}', to_jsonb('u' || i || '@example.com')), '{externalId}', to_jsonb('ext-' || i)),
                            '{emails,0,value}', to_jsonb('u' || i || '@example.com'))
             from organizations o, generate_series(0, $2::int - 1) i
            where o.slug = any($3::text[])`,
          [JSON.stringify(stored), MEMBERS, specs.slice(from, from + step).map((s) => s.organization)],
        );
      }
      await c.query('analyze');
    });
    for (let j = 0; j < N; j++) {
      const res = await fetch(`${target.url}/_bench/seed`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ org: `o${j}`, prefix: 'u', count: MEMBERS }) });
      await res.arrayBuffer();
    }

    // A computed specifier, as servers.mjs's: the type checker takes the types from src/, not the built dist/.
    /** @type {typeof import('../../src/store/embedded.js')} */
    const { freePort } = await import(new URL('../../dist/store/embedded.js', import.meta.url).href);
    const port = await freePort();
    const rec = spawnNode(['dist/main.js', 'reconcile'], { DATABASE_URL: db, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' }, { name: 'reconcile' });
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, rec);
    const t0 = now();
    const budget = Math.max(RESYNC_INTERVAL_S * 2, 60) * 1000;
    let done = 0;
    while (now() - t0 < budget) {
      done = await withClient(db, async (c) => Number((await c.query('select count(*) as n from reconcile_status where last_full_sync_at is not null')).rows[0].n));
      if (done >= N) break;
      await sleep(1000);
    }
    const roundS = (now() - t0) / 1000;
    const lag = await withClient(db, async (c) =>
      (await c.query(`select extract(epoch from max(clock_timestamp() - next_resync_at)) as s, count(*) filter (where last_error is not null) as errors from reconcile_status`)).rows[0],
    );
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    await stopChild(rec);
    const series = metrics.split('\n').filter((l) => l && !l.startsWith('#'));
    const perOrg = series.filter((l) => l.includes('organization="')).length;
    // The same process state with METRICS_ORGANIZATION_LABELS=false (docs/metrics.md): a fresh
    // reconciler (nothing is due after the round) scraped once; the per-organization gauges
    // are read from Postgres at scrape time, so it exports what the first one would.
    const port2 = await freePort();
    const quiet = spawnNode(['dist/main.js', 'reconcile'], { DATABASE_URL: db, HOST: '127.0.0.1', PORT: String(port2), LOG_LEVEL: 'info', METRICS_ORGANIZATION_LABELS: 'false' }, { name: 'reconcile-nolabels' });
    await waitForHttp(`http://127.0.0.1:${port2}/healthz`, quiet);
    const collapsed = await (await fetch(`http://127.0.0.1:${port2}/metrics`)).text();
    await stopChild(quiet);
    const collapsedSeries = collapsed.split('\n').filter((l) => l && !l.startsWith('#'));
    notes.push(
      `10: ${done} of ${N} organizations had their first pass ${done >= N ? `after ${roundS.toFixed(0)} s` : `within the ${(budget / 1000).toFixed(0)} s budget`} ` +
        `(${(done / roundS).toFixed(1)} passes/s; the default resyncInterval of ${RESYNC_INTERVAL_S} s needs ${(N / RESYNC_INTERVAL_S).toFixed(1)}/s); ` +
        `${lag.errors} organizations with an error; /metrics: ${series.length} series, ${perOrg} with an organization label, ${(metrics.length / 1024).toFixed(0)} KiB`,
    );
    return [
      row({ scenario: 10, metric: `first resync round of ${N} organizations × ${MEMBERS} users, one reconciler at defaults`, unit: 's', better: 'lower', ours: done >= N ? roundS : null, target: `≤${RESYNC_INTERVAL_S} s (resyncInterval)`, met: done >= N && roundS <= RESYNC_INTERVAL_S }),
      row({ scenario: 10, metric: 'passes per second', unit: 'passes/s', better: 'higher', ours: done / roundS }),
      row({ scenario: 10, metric: `/metrics series after the round (${N} organizations)`, unit: 'series', better: 'lower', ours: series.length }),
      row({ scenario: 10, metric: '/metrics series with an organization label', unit: 'series', better: 'lower', ours: perOrg }),
      row({ scenario: 10, metric: '/metrics body size', unit: 'KiB', better: 'lower', ours: metrics.length / 1024 }),
      row({ scenario: 10, metric: '/metrics series with METRICS_ORGANIZATION_LABELS=false', unit: 'series', better: 'lower', ours: collapsedSeries.length, target: 'the unlabelled series + 7 (docs/metrics.md)', met: collapsedSeries.length <= series.length - perOrg + 7 }),
      row({ scenario: 10, metric: '/metrics body size with METRICS_ORGANIZATION_LABELS=false', unit: 'KiB', better: 'lower', ours: collapsed.length / 1024 }),
    ];
  } finally {
    await stopChild(target.child);
  }
}
