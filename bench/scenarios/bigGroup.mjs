// Scenario 5: one group of `bigGroup` members, added in PATCHes of 1,000 (Entra's body); then
// GET /Groups/{id}?excludedAttributes=members and a one-member removal PATCH, each timed.
// The peer gets a time budget for the adds: SCIMMY's PATCH reads and rewrites the whole
// member list, so past the budget its remaining members are inserted in SQL (and said so),
// and the GET/removal are still timed on a group of the full size.
import { randomUUID } from 'node:crypto';
import { median, now } from '../lib/common.mjs';
import { scim, seedOurs, seedPeer, withClient } from '../lib/servers.mjs';
import { row } from '../lib/report.mjs';

const BATCH = 1000;
const REPEAT = 5;
/**
 * @param {'Add' | 'Remove'} o
 * @param {string[]} ids
 */
const op = (o, ids) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: o, path: 'members', value: ids.map((value) => ({ value })) }] });

/**
 * @param {() => Promise<unknown>} fn
 * @returns {Promise<number>} ms
 */
async function timed(fn) {
  const t = now();
  await fn();
  return now() - t;
}

/**
 * @param {import('../lib/servers.mjs').ScimSystem} sys
 * @param {string} org
 * @param {string[]} ids  members to add
 * @param {number} budgetMs  for the adds by PATCH
 * @param {(groupId: string, rest: string[]) => Promise<unknown>} fill  adds the members left past the budget
 */
async function run(sys, org, ids, budgetMs, fill) {
  const g = await scim(sys, org, 'POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: `big-${org || 'peer'}` });
  const adds = [];
  const until = now() + budgetMs;
  let added = 0;
  while (added < ids.length && now() < until) {
    adds.push(await timed(() => scim(sys, org, 'PATCH', `/Groups/${g.id}`, op('Add', ids.slice(added, added + BATCH)))));
    added += BATCH;
  }
  const filled = added < ids.length ? ids.length - added : 0;
  if (filled) await fill(g.id, ids.slice(added));
  const gets = [];
  for (let i = 0; i < REPEAT; i++) gets.push(await timed(() => scim(sys, org, 'GET', `/Groups/${g.id}?excludedAttributes=members`)));
  const removes = [];
  for (let i = 0; i < REPEAT; i++) removes.push(await timed(() => scim(sys, org, 'PATCH', `/Groups/${g.id}`, op('Remove', [ids[i * 7]]))));
  return { adds, gets, removes, filled, addedByPatch: Math.min(added, ids.length) };
}

/** Root POST /.search {"count":1} beside the big group (issue 7): the page, not the organization, sets the cost. */
/**
 * @param {import('../lib/servers.mjs').ScimSystem} sys
 * @param {string} org
 */
async function rootSearches(sys, org) {
  const times = [];
  for (let i = 0; i < REPEAT; i++) times.push(await timed(() => scim(sys, org, 'POST', '/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], count: 1 })));
  return times;
}

/** @param {import('../run.mjs').SharedContext} ctx */
export async function bigGroupScenario({ ours, peer, limitPool, P, say }) {
  const N = P.bigGroup;
  say(`5: seeding ${N} users for the big group`);
  const oursIds = await seedOurs(ours, 's5', 's5u', N);
  const peerIds = await seedPeer(peer, 's5u', N);

  say('5: ours');
  const o = await run(ours, 's5', oursIds, 600_000, async () => {
    throw new Error('ours ran out of its 10-minute budget for scenario 5');
  });
  say(`5: ours adds median ${median(o.adds)?.toFixed(0)} ms max ${Math.max(...o.adds).toFixed(0)} ms`);
  const oSearch = await rootSearches(ours, 's5');

  say('5: peer (adds bounded to 120 s)');
  const budget = P.bigGroup > 10_000 ? 120_000 : 60_000;
  const p = await run(peer, '', peerIds, budget, (groupId, rest) =>
    withClient(peer.databaseUrl, (c) => c.query('insert into peer_group_members (group_id, user_id) select $1::uuid, unnest($2::uuid[]) on conflict do nothing', [groupId, rest])),
  );
  say(`5: peer added ${p.addedByPatch} by PATCH${p.filled ? `, ${p.filled} in SQL after the budget` : ''}`);

  // The limit: the SQL each request needs at its core.
  const gid = randomUUID();
  const limitIds = Array.from({ length: N }, () => randomUUID());
  const ladds = [];
  for (let i = 0; i < N; i += BATCH) {
    ladds.push(await timed(() => limitPool.query('insert into limit_members (group_id, member_id) select $1::uuid, unnest($2::uuid[]) on conflict do nothing', [gid, limitIds.slice(i, i + BATCH)])));
  }
  const lremoves = [];
  for (let i = 0; i < REPEAT; i++) lremoves.push(await timed(() => limitPool.query('delete from limit_members where group_id = $1::uuid and member_id = $2::uuid', [gid, limitIds[i * 7]])));

  const peerNote = p.filled ? ` (peer: ${p.addedByPatch} added by PATCH within ${budget / 1000} s, rest in SQL)` : '';
  /** @param {number[]} xs */
  const within = (xs) => Math.max(...xs) <= 200;
  return [
    row({ scenario: 5, metric: `add-1,000-members PATCH, median over ${N} members`, unit: 'ms', better: 'lower', ours: median(o.adds), limit: median(ladds), peer: median(p.adds), target: 'each ≤200 ms', met: within(o.adds) }),
    row({ scenario: 5, metric: `add-1,000-members PATCH, max${peerNote}`, unit: 'ms', better: 'lower', ours: Math.max(...o.adds), limit: Math.max(...ladds), peer: Math.max(...p.adds), target: 'each ≤200 ms', met: within(o.adds) }),
    row({ scenario: 5, metric: `GET /Groups/{id}?excludedAttributes=members at ${N}, max of ${REPEAT}`, unit: 'ms', better: 'lower', ours: Math.max(...o.gets), peer: Math.max(...p.gets), target: '≤200 ms', met: within(o.gets) }),
    row({ scenario: 5, metric: `root POST /.search {"count":1} beside the ${N}-member group (${N} users), max of ${REPEAT}`, unit: 'ms', better: 'lower', ours: Math.max(...oSearch) }),
    row({ scenario: 5, metric: `remove-1-member PATCH at ${N}, max of ${REPEAT}`, unit: 'ms', better: 'lower', ours: Math.max(...o.removes), limit: Math.max(...lremoves), peer: Math.max(...p.removes), target: '≤200 ms', met: within(o.removes) }),
  ];
}
