// Per-organization concurrency limit (issue 10): one organization holding all its slots and
// filling its queue gets 429 + Retry-After, while another organization on the same process is
// served at once. Requests hold a slot by trickling their body (the limit sits before the body
// is read), so the test needs no timing guesses.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertOrganization } from '../src/store/orgs.js';
import { createToken } from '../src/store/tokens.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { scimOrgRequestsQueued, scimOrgThrottledTotal } from '../src/metrics.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
let s: TestServer;
/** Same database, its own app: a short queue timeout, for the timeout case only. */
let short: TestServer;
let betaToken = '';

beforeAll(async () => {
  // A queue timeout far longer than the test: whether a queued request is served must not
  // depend on how fast a loaded machine runs the steps.
  s = await startTestServer({ org: 'alpha', options: { orgLimit: { concurrency: 2, queue: 2, queueTimeoutMs: 60_000 } } });
  short = await startTestServer({ org: 'gamma', db: s.db, options: { orgLimit: { concurrency: 1, queue: 1, queueTimeoutMs: 500 } } });
  const beta = await upsertOrganization(s.pool, { organization: 'beta' });
  betaToken = (await createToken(s.pool, beta.id)).token;
});
afterAll(async () => {
  await short?.close();
  await s?.close();
});

/** Waits until `n` requests of the organization wait in the limiter's queue (its gauge). */
async function queued(organization: string, n: number): Promise<void> {
  for (;;) {
    const { values } = await scimOrgRequestsQueued.get();
    if ((values.find((v) => v.labels.organization === organization)?.value ?? 0) === n) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Held {
  /** Sends the rest of the body; resolves with the status. */
  finish(): Promise<number>;
  status: Promise<number>;
}

/** A POST /Users whose body is only half sent: it holds (or waits for) a slot of alpha. */
function heldPost(n: number, srv: TestServer = s): Held {
  const body = JSON.stringify({ schemas: [USER], userName: `held${n}@example.com` });
  const req = http.request(`${srv.baseUrl}/Users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/scim+json', 'content-length': Buffer.byteLength(body) },
  });
  const status = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
  });
  req.write(body.slice(0, 10));
  return {
    status,
    finish: () => {
      req.end(body.slice(10));
      return status;
    },
  };
}

describe('per-organization concurrency limit', () => {
  it('queues, then refuses one organization with 429 + Retry-After while another is served', async () => {
    const held = [heldPost(1), heldPost(2), heldPost(3), heldPost(4)];
    await queued('alpha', 2); // so 2 are in progress: a request is queued only when all slots are taken
    const refused = await s.scim('/Users?count=1');
    expect(refused.status, refused.text).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(refused.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '429' });
    expect(refused.body.detail).toMatch(/organization "alpha" \(queue full; limit 2 in progress, 2 waiting\)/);
    expect((await scimOrgThrottledTotal.get()).values.find((v) => v.labels.organization === 'alpha')?.value).toBe(1);

    // beta is not affected by alpha's load.
    const other = await fetch(`${s.url}/scim/v2/beta/Users?count=1`, { headers: { authorization: `Bearer ${betaToken}` } });
    expect(other.status).toBe(200);

    // alpha's slots pass to its queued requests in order once the first two finish.
    // Which two hold the slots depends on arrival order: finish all, the queued ones follow.
    expect(await Promise.all(held.map((h) => h.finish()))).toEqual([201, 201, 201, 201]);
    expect((await s.scim('/Users?count=1')).status).toBe(200);
  });

  it('a request that waits longer than the queue timeout gets 429', async () => {
    // gamma: one slot, one queue place, 500 ms wait. Two half-sent requests: one holds the slot
    // (its body never completes), the other waits and is refused when its wait runs out.
    const held = [heldPost(5, short), heldPost(6, short)];
    await queued('gamma', 1);
    const started = Date.now();
    expect(await Promise.race(held.map((h) => h.status))).toBe(429);
    expect(Date.now() - started).toBeLessThan(60_000);
    await queued('gamma', 0);
    expect((await Promise.all(held.map((h) => h.finish()))).sort()).toEqual([201, 429]);
    const again = await short.scim('/Users?count=1');
    expect(again.status).toBe(200);
    expect((await scimOrgThrottledTotal.get()).values.find((v) => v.labels.organization === 'gamma')?.value).toBe(1);
  });

  it('states the wait in the 429 detail and Retry-After', async () => {
    const held = heldPost(7, short);
    // A fully sent request is served while held has not reached the limiter yet; once held
    // has the slot, one waits 500 ms and is refused.
    let waited = await short.scim('/Users?count=1');
    for (let i = 0; i < 100 && waited.status === 200; i++) waited = await short.scim('/Users?count=1');
    expect(waited.status).toBe(429);
    expect(waited.headers.get('retry-after')).toBe('1');
    expect(waited.body.detail).toMatch(/organization "gamma" \(waited 500 ms; limit 1 in progress, 1 waiting\)/);
    expect(await held.finish()).toBe(201);
  });

  it('a client that leaves during authentication takes no slot with it', async () => {
    // gamma: one slot. The token lookups of two requests are held by a lock on scim_tokens;
    // their clients go away meanwhile; once the lock is gone, the lookups finish for requests
    // nobody waits for. Before the fix the first kept gamma's slot for good: every later
    // request waited 500 ms and got 429 (what a full bench run showed as 0 requests/s).
    const locker = await s.pool.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table scim_tokens in access exclusive mode');
      const gone = [1, 2].map(() => {
        const req = http.request(`${short.baseUrl}/Users?count=1`, { headers: { authorization: `Bearer ${short.token}` } });
        req.on('error', () => {});
        req.end();
        return req;
      });
      for (;;) {
        const { rows } = await s.pool.query(`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like '%from scim_tokens t%'`);
        if (rows[0].n >= 2) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const req of gone) req.destroy();
      await new Promise((r) => setTimeout(r, 200)); // the server sees both clients gone
      await locker.query('commit');
    } finally {
      locker.release();
    }
    const after = await short.scim('/Users?count=1');
    expect(after.status, after.text).toBe(200);
    await queued('gamma', 0);
  });
});
