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
let betaToken = '';

beforeAll(async () => {
  s = await startTestServer({ org: 'alpha', options: { orgLimit: { concurrency: 2, queue: 2, queueTimeoutMs: 3000 } } });
  const beta = await upsertOrganization(s.pool, { organization: 'beta' });
  betaToken = (await createToken(s.pool, beta.id)).token;
});
afterAll(async () => {
  await s?.close();
});

interface Held {
  /** Sends the rest of the body; resolves with the status. */
  finish(): Promise<number>;
  status: Promise<number>;
}

/** A POST /Users whose body is only half sent: it holds (or waits for) a slot of alpha. */
function heldPost(n: number): Held {
  const body = JSON.stringify({ schemas: [USER], userName: `held${n}@example.com` });
  const req = http.request(`${s.baseUrl}/Users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/scim+json', 'content-length': Buffer.byteLength(body) },
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
    await new Promise((r) => setTimeout(r, 200));
    const refused = await s.scim('/Users?count=1');
    expect(refused.status, refused.text).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('3');
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
    const held = [heldPost(5), heldPost(6)];
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    const waited = await s.scim('/Users?count=1');
    expect(waited.status).toBe(429);
    expect(waited.body.detail).toMatch(/waited 3000 ms/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
    expect(await Promise.all(held.map((h) => h.finish()))).toEqual([201, 201]);
  });
});
