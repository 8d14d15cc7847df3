// Coalesced reconciler wake-ups (src/store/wakeups.ts): a write's statement carries the
// NOTIFY only when no other statement of the process carries one for the organization; a
// write that did not carry it is followed, once committed, by a standalone NOTIFY. What must
// hold: every committed write is followed by a NOTIFY committed after it, and a burst of
// writes sends fewer NOTIFYs than writes.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECONCILE_CHANNEL } from '../src/store/reconcileQueue.js';
import { wakeFor } from '../src/store/wakeups.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { waitFor } from './helpers/desired.js';

let s: TestServer;
let listener: pg.Client;
/** Payloads heard on the reconcile channel, in order. */
const heard: string[] = [];
beforeAll(async () => {
  s = await startTestServer({ org: 'wakeups' });
  listener = new pg.Client({ connectionString: s.db.url });
  await listener.connect();
  listener.on('notification', (n) => heard.push(n.payload ?? ''));
  await listener.query(`listen ${RECONCILE_CHANNEL}`);
});
afterAll(async () => {
  await listener.end();
  await s.close();
});

const heardNow = () => heard.filter((p) => p === s.organizationId).length;
const createUser = async (userName: string) => (await s.scim('/Users', { method: 'POST', body: { userName } })).body.id as string;
/** One notification round trip: NOTIFYs committed before it are heard once it is. */
async function drainHeard() {
  const marker = `drain-${Math.random()}`;
  await s.pool.query('select pg_notify($1, $2)', [RECONCILE_CHANNEL, marker]);
  await waitFor(() => heard.includes(marker), 5000, 'own notification');
}

describe('reconciler wake-ups', () => {
  it('one carrier at a time; a write that did not carry is followed by a standalone NOTIFY', async () => {
    const org = '00000000-0000-4000-8000-00000000000a';
    const mine = () => heard.filter((p) => p === org).length;
    const w1 = wakeFor(s.pool, org);
    const w2 = wakeFor(s.pool, org);
    expect([w1.carry, w2.carry]).toEqual([true, false]);
    w2.done(true);
    await waitFor(() => mine() === 1, 5000, 'the standalone NOTIFY of the write that did not carry');
    const w3 = wakeFor(s.pool, org);
    expect(w3.carry).toBe(false);
    w3.done(false); // changed nothing: no NOTIFY
    w1.done(true); // carried its own
    const w4 = wakeFor(s.pool, org);
    expect(w4.carry).toBe(true);
    w4.done(true);
    w4.done(true); // a second call counts for nothing
    expect(wakeFor(s.pool, org).carry).toBe(true);
    await drainHeard();
    expect(mine()).toBe(1);
  });

  it('a write that commits while another write of the organization holds the NOTIFY is woken for without waiting for it', async () => {
    const x = await createUser('wake-x@example.com');
    const y = await createUser('wake-y@example.com');
    await drainHeard();
    const before = heardNow();
    const holder = new pg.Client({ connectionString: s.db.url });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('select 1 from scim_users where id = $1::uuid for update', [x]);
      let xDone = false;
      const patchX = s.scim(`/Users/${x}`, { method: 'PATCH', body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'displayName', value: 'X' }] } })
        .then((r) => { xDone = true; return r; });
      // Until X's statement (carrying the organization's NOTIFY) waits for the row lock.
      await waitFor(async () => (await s.pool.query(`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%update scim_users%'`)).rows.length > 0, 5000, 'X waiting');
      const patchY = await s.scim(`/Users/${y}`, { method: 'PATCH', body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'displayName', value: 'Y' }] } });
      expect(patchY.status).toBe(200);
      await waitFor(() => heardNow() === before + 1, 5000, "Y's wake-up while X still holds the NOTIFY");
      expect(xDone).toBe(false);
      await holder.query('commit');
      expect((await patchX).status).toBe(200);
      await waitFor(() => heardNow() === before + 2, 5000, "X's own wake-up");
    } finally {
      await holder.end();
    }
  });

  it('a burst of concurrent writes sends fewer NOTIFYs than writes, and at least one', async () => {
    await drainHeard();
    const before = heardNow();
    const n = 120;
    let next = 0;
    await Promise.all(Array.from({ length: 24 }, async () => {
      while (next < n) {
        const i = next++;
        expect((await s.scim('/Users', { method: 'POST', body: { userName: `burst${i}@example.com` } })).status).toBe(201);
      }
    }));
    // A standalone NOTIFY may still be in flight when the last response is in.
    await new Promise((r) => setTimeout(r, 200));
    await drainHeard();
    const sent = heardNow() - before;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(n);
  });
});
