// Scenarios 1–4 and 8: ingress throughput against the limit and the peer, then peak RSS.
// Order: 2 and 4 first (reads on exactly `users` users, before scenario 1 grows the peer's
// single-tenant table), then 1, then 3. Each measurement runs ours, limit, peer in turn, `runs`
// times, the order rotating from run to run; the row holds the medians.
import { randomUUID } from 'node:crypto';
import { median, memoryOf } from '../lib/common.mjs';
import { load, userBody } from '../lib/load.mjs';
import { limitLoop } from '../lib/limit.mjs';
import { scim, seedOurs, seedPeer, withClient } from '../lib/servers.mjs';
import { row, throughputTarget } from '../lib/report.mjs';

const ORG_ID = '00000000-0000-4000-8000-000000000002';

/**
 * @param {import('pg').Pool} pool
 * @param {string} prefix
 * @param {number} count
 */
async function seedLimit(pool, prefix, count) {
  const body = userBody(prefix, 0);
  await pool.query(
    `insert into limit_users (organization_id, user_name, resource)
     select $1::uuid, $2::text || i || '@example.com', $3::jsonb from generate_series(0, $4::int - 1) i`,
    [ORG_ID, prefix, body, count],
  );
  await pool.query('vacuum analyze limit_users');
}

/** @type {(n: number, count: number) => number} */
const pick = (n, count) => (n * 7919) % count; // spread lookups over the whole directory

/** @param {import('../run.mjs').SharedContext} ctx */
export async function ingressScenarios({ ours, peer, limitPool, P, say, want }) {
  const rows = [];
  const D = P.duration;
  /**
   * Runs each system's load `P.runs` times, interleaved; the medians of their req/s. The order
   * rotates from run to run (ours, limit, peer; then limit, peer, ours; ...), so that no system
   * always runs right after the same one: a system that follows the bare-SQL limit inherits
   * its aftermath (autovacuum of the rows it wrote, dirty buffers, WAL), which in a fixed
   * order always fell on the peer.
   * With `warmup`, each system first runs once unmeasured (JIT, caches, plans: the first run
   * after seeding was the slowest of every system, by up to half); only for loads bounded by
   * time, whose run index only names what they create (`warm` for that run).
   * @param {string} name
   * @param {Record<string, (run: number | 'warm') => Promise<{ rps: number, errors?: number, non2xx?: number }>>} fns  by system: ours, limit, peer (each optional)
   * @param {{ warmup?: boolean }} [opts]
   */
  const measure = async (name, fns, opts = {}) => {
    /** @type {Record<string, number[]>} */
    const got = { ours: [], limit: [], peer: [] };
    const systems = ['ours', 'limit', 'peer'];
    if (opts.warmup) {
      for (const sys of systems) await fns[sys]?.('warm');
      say(`${name}: warmed up`);
    }
    for (let r = 0; r < P.runs; r++) {
      for (const sys of [...systems.slice(r % 3), ...systems.slice(0, r % 3)]) {
        if (!fns[sys]) continue;
        const res = await fns[sys](r);
        if (res.errors || res.non2xx) say(`${name} ${sys} run ${r + 1}: ${res.errors ?? 0} errors, ${res.non2xx ?? 0} non-2xx`);
        got[sys].push(res.rps);
      }
      say(`${name} run ${r + 1}/${P.runs}: ours ${got.ours.at(-1)?.toFixed(0)} limit ${got.limit.at(-1)?.toFixed(0) ?? '—'} peer ${got.peer.at(-1)?.toFixed(0) ?? '—'} /s`);
    }
    return { ours: median(got.ours), limit: fns.limit ? median(got.limit) : null, peer: fns.peer ? median(got.peer) : null, runs: got };
  };

  say(`seeding ${P.users} users into ours (s2), the peer and the limit`);
  await seedOurs(ours, 's2', 's2u', P.users);
  await seedPeer(peer, 's2u', P.users);
  await seedLimit(limitPool, 's2u', P.users);

  if (want(2)) {
    /** @param {number} n */
    const filterPath = (n) => `/Users?filter=${encodeURIComponent(`userName eq "s2u${pick(n, P.users)}@example.com"`)}`;
    const m = await measure('2 filter userName eq', {
      ours: () => load({ url: ours.url, token: ours.tokens.s2, path: (n) => `${ours.base('s2')}${filterPath(n)}`, duration: D }),
      limit: () =>
        limitLoop(limitPool, {
          duration: D,
          step: (pool, n) =>
            pool.query('select id, user_name, resource, created_at from limit_users where organization_id = $1::uuid and lower(user_name) = lower($2::text)', [
              ORG_ID,
              `s2u${pick(n, P.users)}@example.com`,
            ]),
        }),
      peer: () => load({ url: peer.url, token: peer.token, path: (n) => `/scim/v2${filterPath(n)}`, duration: D }),
    }, { warmup: true });
    rows.push(throughputTarget(row({ scenario: 2, metric: `GET /Users?filter=userName eq (${P.users} users, c16)`, unit: 'req/s', better: 'higher', ...m }), 1.5));
  }

  if (want(4)) {
    const countSql = 'select count(*) from limit_users where organization_id = $1::uuid';
    const pageSql = 'select id, user_name, resource, created_at from limit_users where organization_id = $1::uuid order by created_at, id limit 100';
    const m = await measure('4 index page', {
      ours: () => load({ url: ours.url, token: ours.tokens.s2, path: `${ours.base('s2')}/Users?startIndex=1&count=100`, duration: D }),
      limit: () => limitLoop(limitPool, { duration: D, step: async (pool) => (await pool.query(countSql, [ORG_ID]), await pool.query(`${pageSql} offset 0`, [ORG_ID])) }),
      peer: () => load({ url: peer.url, token: peer.token, path: '/scim/v2/Users?startIndex=1&count=100', duration: D }),
    }, { warmup: true });
    rows.push(throughputTarget(row({ scenario: 4, metric: 'GET /Users?startIndex=1&count=100 (c16)', unit: 'req/s', better: 'higher', ...m }), 2));
    const c = await measure('4 cursor page', {
      ours: () => load({ url: ours.url, token: ours.tokens.s2, path: `${ours.base('s2')}/Users?cursor=&count=100`, duration: D }),
      limit: () => limitLoop(limitPool, { duration: D, step: async (pool) => (await pool.query(countSql, [ORG_ID]), await pool.query(pageSql.replace('limit 100', 'limit 101'), [ORG_ID])) }),
    }, { warmup: true });
    rows.push(row({ scenario: 4, metric: 'GET /Users?cursor=&count=100 (c16; peer: SCIMMY has no cursor paging)', unit: 'req/s', better: 'higher', ...c }));
  }

  if (want(1)) {
    const m = await measure('1 POST /Users', {
      ours: (r) => load({ url: ours.url, token: ours.tokens.s1, method: 'POST', path: `${ours.base('s1')}/Users`, body: (n) => userBody(`o1r${r}-`, n), duration: D }),
      limit: (r) =>
        limitLoop(limitPool, {
          duration: D,
          step: (pool, n) =>
            pool.query('insert into limit_users (organization_id, user_name, resource) values ($1::uuid, $2::text, $3::jsonb) returning id, created_at', [
              ORG_ID,
              `l1r${r}-${n}@example.com`,
              userBody(`l1r${r}-`, n),
            ]),
        }),
      peer: (r) => load({ url: peer.url, token: peer.token, method: 'POST', path: '/scim/v2/Users', body: (n) => userBody(`p1r${r}-`, n), duration: D }),
    }, { warmup: true });
    rows.push(throughputTarget(row({ scenario: 1, metric: 'POST /Users, unique users (c16)', unit: 'req/s', better: 'higher', ...m }), 1.5));
  }

  if (want(3)) {
    const perRun = P.patchAmount16 + P.patchAmount1;
    const need = P.runs * perRun;
    say(`seeding ${need} users for group PATCHes`);
    const oursIds = await seedOurs(ours, 's3', 's3u', need);
    const peerIds = await seedPeer(peer, 's3u', need);
    /** @param {string} id */
    const entraAdd = (id) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'Add', path: 'members', value: [{ value: id }] }] });
    const lost = { ours: 0, peer: 0 };
    for (const [conc, amount, offset] of [
      [16, P.patchAmount16, 0],
      [1, P.patchAmount1, P.patchAmount16],
    ]) {
      /**
       * Counts the group's members in SQL: a lost update shows as fewer members than 2xx PATCHes.
       * @param {import('../lib/servers.mjs').ScimSystem} sys
       * @param {string} groupId
       * @param {import('../lib/load.mjs').LoadResult} res
       * @param {string} sql
       */
      const verify = async (sys, groupId, res, sql) => {
        const n = await withClient(sys.databaseUrl, async (c) => Number((await c.query(sql, [groupId])).rows[0].n));
        if (n !== res.ok) {
          lost[sys === ours ? 'ours' : 'peer'] += Math.abs(res.ok - n);
          say(`3 c${conc}: ${sys === ours ? 'ours' : 'peer'} has ${n} members after ${res.ok} successful PATCHes`);
        }
        return res;
      };
      const m = await measure(`3 PATCH /Groups add member c${conc}`, {
        ours: async (r) => {
          const g = await scim(ours, 's3', 'POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: `g3-c${conc}-r${r}` });
          const base = Number(r) * perRun + offset; // no warm-up here: r is a run index
          const res = await load({ url: ours.url, token: ours.tokens.s3, method: 'PATCH', path: `${ours.base('s3')}/Groups/${g.id}`, body: (n) => entraAdd(oursIds[base + n]), connections: conc, amount });
          return verify(ours, g.id, res, 'select count(*) as n from scim_group_members where group_id = $1::uuid');
        },
        limit: () => {
          const group = randomUUID();
          return limitLoop(limitPool, {
            loops: conc,
            amount,
            step: (pool) => pool.query('insert into limit_members (group_id, member_id) values ($1::uuid, $2::uuid) on conflict do nothing', [group, randomUUID()]),
          });
        },
        peer: async (r) => {
          const g = await scim(peer, '', 'POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: `g3-c${conc}-r${r}` });
          const base = Number(r) * perRun + offset; // no warm-up here: r is a run index
          const res = await load({ url: peer.url, token: peer.token, method: 'PATCH', path: `/scim/v2/Groups/${g.id}`, body: (n) => entraAdd(peerIds[base + n]), connections: conc, amount });
          return verify(peer, g.id, res, 'select count(*) as n from peer_group_members where group_id = $1::uuid');
        },
      });
      rows.push(throughputTarget(row({ scenario: 3, metric: `PATCH /Groups/{id} add 1 member, Entra body (c${conc}, ${amount} requests to each system)`, unit: 'req/s', better: 'higher', ...m }), 10));
    }
    rows.push(row({ scenario: 3, metric: 'members lost (group count ≠ successful PATCHes)', unit: 'members', better: 'lower', ours: lost.ours, peer: lost.peer, target: '0 lost', met: lost.ours === 0 }));
  }

  if (want(8)) {
    const o = await memoryOf(ours.child.pid);
    const p = await memoryOf(peer.child.pid);
    rows.push(row({ scenario: 8, metric: 'ingress peak RSS (VmHWM) after scenarios 1–4', unit: 'MB', better: 'lower', ours: o.hwmMb, peer: p.hwmMb }));
  }
  return rows;
}
