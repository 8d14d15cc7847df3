// Per-organization concurrency limit (issue 10): one organization holding all its slots and
// filling its queue gets 429 + Retry-After, while another organization on the same process is
// served at once. Requests hold a slot by trickling their body (the limit sits before the body
// is read), so the test needs no timing guesses.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertOrganization } from '../src/store/orgs.js';
import { createToken } from '../src/store/tokens.js';
import { startTestServer, type TestServer } from './helpers/server.js';

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

/** Time for requests just sent on loopback to reach the limiter, even on a loaded machine. */
const settle = () => new Promise((r) => setTimeout(r, 1000));

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
    const held = [heldPost(1), heldPost(2), heldPost(3), heldPost(4)]; // 2 in progress, 2 queued
    await settle();
    const refused = await s.scim('/Users?count=1');
    expect(refused.status, refused.text).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(refused.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '429' });
    expect(refused.body.detail).toMatch(/organization "alpha" \(queue full; limit 2 in progress, 2 waiting\)/);

    // beta is not affected by alpha's load.
    const other = await fetch(`${s.url}/scim/v2/beta/Users?count=1`, { headers: { authorization: `Bearer ${betaToken}` } });
    expect(other.status).toBe(200);

    // alpha's slots pass to its queued requests in order once the first two finish.
    expect(await held[0]!.finish()).toBe(201);
    expect(await held[1]!.finish()).toBe(201);
    expect(await Promise.all([held[2]!.finish(), held[3]!.finish()])).toEqual([201, 201]);
    expect((await s.scim('/Users?count=1')).status).toBe(200);
  });

  it('a request that waits longer than the queue timeout gets 429', async () => {
    const held = heldPost(5, short); // the only slot of gamma
    await settle();
    const started = Date.now();
    const waited = await short.scim('/Users?count=1');
    expect(waited.status).toBe(429);
    expect(waited.headers.get('retry-after')).toBe('1');
    expect(waited.body.detail).toMatch(/organization "gamma" \(waited 500 ms; limit 1 in progress, 1 waiting\)/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(await held.finish()).toBe(201);
    expect((await short.scim('/Users?count=1')).status).toBe(200);
  });
});
