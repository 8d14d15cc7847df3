// Scenario 9: one organization of 1,000,000 users (seeded in SQL; `--quick`: 20,000) beside one
// of 10,000 (`--quick`: 1,000) in the same database and process: userName eq lookup and cursor
// page throughput, index page throughput (its count(*) for totalResults grows with the
// directory), and sequential PATCH / deactivation latency, measured alternately on the two
// organizations; ours at the shipped defaults, ingress only. Plus the bare `count(*)` that
// index paging pays, timed in SQL at both sizes.
import { median, now, percentile, sleep } from '../lib/common.mjs';
import { load } from '../lib/load.mjs';
import { scim, seedOurs, startOurs, withClient } from '../lib/servers.mjs';
import { row } from '../lib/report.mjs';
import { freshDatabase, stopChild } from '../lib/common.mjs';

/** @type {(n: number, count: number) => number} */
const pick = (n, count) => (n * 7919) % count;

/** @param {import('../run.mjs').ScenarioContext} ctx */
export async function scaleScenario({ adminUrl, P, say, notes }) {
  /** @type {Record<string, number>} */
  const sizes = { small: P.scaleSmall, large: P.scaleLarge };
  const db = await freshDatabase(adminUrl, 'bench_ours_scale');
  const ours = await startOurs({ databaseUrl: db, specs: [{ organization: 'small' }, { organization: 'large' }], env: { RECONCILER_ENABLED: 'false' } });
  try {
    /** @type {Record<string, string[]>} */
    const ids = {};
    for (const [org, n] of Object.entries(sizes)) {
      say(`9: seeding ${n} users into "${org}"`);
      const t = now();
      ids[org] = await seedOurs(ours, org, `${org}u`, n);
      say(`9: seeded ${n} in ${((now() - t) / 1000).toFixed(0)} s`);
    }
    await withClient(db, (c) => c.query('vacuum analyze scim_users'));
    /** @type {Record<string, Record<string, (number | null)[]>>} */
    const got = { small: {}, large: {} };
    /** @type {(org: string, k: string, v: number | null) => number} */
    const push = (org, k, v) => (got[org][k] ??= []).push(v);
    const D = P.duration;
    for (let r = 0; r < P.runs; r++) {
      for (const org of ['small', 'large']) {
        const n = sizes[org];
        const base = `/scim/v2/${org}`;
        const token = ours.tokens[org];
        const lookup = await load({ url: ours.url, token, path: (i) => `${base}/Users?filter=${encodeURIComponent(`userName eq "${org}u${pick(i, n)}@example.com"`)}`, duration: D });
        push(org, 'lookup', lookup.rps);
        // A later page of a traversal: what each of a client's 10,000 pages through 1,000,000
        // users costs (the first page counts; its cursors carry the total, src/scim/listParams.ts).
        // Its cursor is fetched before any load: after a c16 load of first pages, requests the
        // load generator gave up on still wait in the organization's queue.
        const next = /** @type {{ nextCursor: string }} */ (await scim(ours, org, 'GET', '/Users?cursor=&count=100')).nextCursor;
        push(org, 'cursorNext', (await load({ url: ours.url, token, path: `${base}/Users?cursor=${next}&count=100`, duration: D })).rps);
        push(org, 'cursor', (await load({ url: ours.url, token, path: `${base}/Users?cursor=&count=100`, duration: D })).rps);
        push(org, 'index', (await load({ url: ours.url, token, path: `${base}/Users?startIndex=1&count=100`, duration: D })).rps);
        // Requests the load generator gave up on may still wait in the organization's queue (at
        // 1,000,000 users each counting page takes ~0.2 s): let them drain (the queue's timeout
        // is 5 s) so the sequential latencies below measure the PATCH, not the leftovers.
        await sleep(5_500);
        // Sequential single requests: latency, not throughput.
        const patch = [];
        const deact = [];
        for (let i = 0; i < P.scaleLatencyRequests; i++) {
          const id = ids[org][pick(r * P.scaleLatencyRequests + i + 1, n)];
          let t = now();
          await scim(ours, org, 'PATCH', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'displayName', value: `P ${r}-${i}` }] });
          patch.push(now() - t);
          t = now();
          await scim(ours, org, 'PATCH', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] });
          deact.push(now() - t);
        }
        push(org, 'patch', percentile(patch, 50));
        push(org, 'patch99', percentile(patch, 99));
        push(org, 'deact', percentile(deact, 50));
        push(org, 'deact99', percentile(deact, 99));
        const count = await withClient(db, async (c) => {
          const t = now();
          await c.query(`select count(*) from scim_users u join organizations o on o.id = u.organization_id where o.slug = $1::text and u.deleted_at is null`, [org]);
          return now() - t;
        });
        push(org, 'count', count);
      }
      say(`9 run ${r + 1}/${P.runs}: lookup ${got.small.lookup.at(-1)?.toFixed(0)} vs ${got.large.lookup.at(-1)?.toFixed(0)} /s, index page ${got.small.index.at(-1)?.toFixed(0)} vs ${got.large.index.at(-1)?.toFixed(0)} /s`);
    }
    /** @type {(org: string, k: string) => number | null} */
    const m = (org, k) => median(got[org][k]);
    /** @type {(k: string, higher: boolean) => boolean} */
    const within = (k, higher) => {
      // Nothing measured on either side is not "within".
      if (m('small', k) == null || m('large', k) == null) return false;
      const a = Number(m('small', k));
      const b = Number(m('large', k));
      return higher ? b >= a * 0.8 : b <= a * 1.2;
    };
    const L = sizes.large.toLocaleString('en');
    const S = sizes.small.toLocaleString('en');
    notes.push(`9: "ours" is the ${L}-user organization, "peer" column holds the same figure for the ${S}-user one (same process, same run); ours/peer is large ÷ small`);
    /** @param {Omit<import('../lib/report.mjs').RowInput, 'scenario' | 'better'> & { better?: 'higher' | 'lower' }} o */
    const r2 = (o) => row({ scenario: 9, better: 'higher', ...o });
    return [
      r2({ metric: `GET /Users?filter=userName eq at ${L} users (c16)`, unit: 'req/s', ours: m('large', 'lookup'), peer: m('small', 'lookup'), target: 'within 20% of the small org', met: within('lookup', true) }),
      r2({ metric: `GET /Users?cursor=<next>&count=100 at ${L} users, a traversal's later page (c16)`, unit: 'req/s', ours: m('large', 'cursorNext'), peer: m('small', 'cursorNext'), target: 'within 20%', met: within('cursorNext', true) }),
      r2({ metric: `GET /Users?cursor=&count=100 at ${L} users, a traversal's first page (c16; pays count(*) once per traversal)`, unit: 'req/s', ours: m('large', 'cursor'), peer: m('small', 'cursor'), target: 'documented cost' }),
      r2({ metric: `PATCH /Users/{id} displayName at ${L} users, p50 (sequential)`, unit: 'ms', better: 'lower', ours: m('large', 'patch'), peer: m('small', 'patch'), target: 'within 20%', met: within('patch', false) }),
      r2({ metric: `PATCH active=false (deactivation) at ${L} users, p50 (sequential)`, unit: 'ms', better: 'lower', ours: m('large', 'deact'), peer: m('small', 'deact'), target: 'within 20%', met: within('deact', false) }),
      r2({ metric: 'PATCH displayName, p99', unit: 'ms', better: 'lower', ours: m('large', 'patch99'), peer: m('small', 'patch99') }),
      r2({ metric: 'deactivation, p99', unit: 'ms', better: 'lower', ours: m('large', 'deact99'), peer: m('small', 'deact99') }),
      r2({ metric: `GET /Users?startIndex=1&count=100 at ${L} users (c16; pays count(*) for totalResults)`, unit: 'req/s', ours: m('large', 'index'), peer: m('small', 'index'), target: 'documented cost' }),
      r2({ metric: `bare count(*) of the organization's users in SQL`, unit: 'ms', better: 'lower', ours: m('large', 'count'), peer: m('small', 'count') }),
    ];
  } finally {
    await stopChild(ours.child);
  }
}
