// The http connector against a real HTTP server (test/helpers/httpTarget.ts).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { httpTargetSpec } from '../src/orgs/scimConfig.js';
import { makeHttpTarget, parseRetryAfter } from '../src/targets/http/httpTarget.js';
import { TargetRejectedError, TargetRetryLaterError, type Target } from '../src/targets/target.js';
import { startHttpTarget, type HttpTargetServer } from './helpers/httpTarget.js';

let srv: HttpTargetServer;
let target: Target;
const make = (extra: Record<string, unknown> = {}) =>
  makeHttpTarget({ ...httpTargetSpec.parse({ baseUrl: srv.baseUrl, retryBaseDelay: '5ms', pageSize: 3, ...extra }), organization: 'acme', token: 's3cret' });
const member = (email: string, role = 'member') => ({ email, role, teams: ['b', 'a'], displayName: 'X', externalId: 'ext' });
const key = { idempotencyKey: 'k-1' };

beforeAll(async () => {
  srv = await startHttpTarget({ token: 's3cret' });
});
afterAll(() => srv.close());
beforeEach(() => {
  srv.reset();
  for (const m of srv.members('acme')) srv.remove('acme', m.email);
  target = make();
});

async function all(t: Target) {
  const out = [];
  for await (const page of t.list()) out.push(...page);
  return out;
}

describe('http target', () => {
  it('grants with PUT, bearer token and Idempotency-Key, and reads the member back', async () => {
    await target.grant(member('Ann@Example.com'.toLowerCase(), 'admin'), key);
    const put = srv.requests.find((r) => r.method === 'PUT')!;
    expect(put.path).toBe('/orgs/acme/members/ann%40example.com');
    expect(put.headers.authorization).toBe('Bearer s3cret');
    expect(put.headers['idempotency-key']).toBe('k-1');
    expect(put.body).toEqual({ email: 'ann@example.com', role: 'admin', teams: ['b', 'a'], displayName: 'X', externalId: 'ext' });
    expect(await target.get('ann@example.com')).toEqual({ email: 'ann@example.com', role: 'admin', teams: ['a', 'b'] });
    expect(await target.get('nobody@example.com')).toBeUndefined();
  });

  it('lists every page in email order', async () => {
    for (const e of ['d', 'a', 'c', 'e', 'b', 'f', 'g']) srv.put('acme', { email: `${e}@x`, role: 'member', teams: [] });
    const pages: number[] = [];
    for await (const p of target.list()) pages.push(p.length);
    expect(pages).toEqual([3, 3, 1]);
    expect((await all(target)).map((m) => m.email)).toEqual(['a@x', 'b@x', 'c@x', 'd@x', 'e@x', 'f@x', 'g@x']);
  });

  it('treats 404 on DELETE as done', async () => {
    await target.revoke('ghost@x', key);
    expect(srv.requests.map((r) => `${r.method} ${r.status}`)).toEqual(['DELETE 404']);
  });

  it('retries 5xx with backoff, keeping the Idempotency-Key', async () => {
    srv.failNext(3, { status: 500 });
    await target.grant(member('a@x'), key);
    const puts = srv.requests.filter((r) => r.method === 'PUT');
    expect(puts.map((r) => r.status)).toEqual([500, 500, 500, 201]);
    expect(new Set(puts.map((r) => r.headers['idempotency-key']))).toEqual(new Set(['k-1']));
  });

  it('honours Retry-After on 429 and 503', async () => {
    srv.failNext(1, { status: 429, retryAfter: '1' });
    srv.failNext(1, { status: 503, retryAfter: '0' });
    const t0 = Date.now();
    await target.revoke('a@x', key);
    const gap = srv.requests[1].at - srv.requests[0].at;
    expect(gap).toBeGreaterThanOrEqual(950);
    expect(srv.requests.map((r) => r.status)).toEqual([429, 503, 404]);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('hands a long Retry-After back to the queue instead of waiting', async () => {
    srv.failNext(1, { status: 429, retryAfter: '120' });
    await expect(target.revoke('a@x', key)).rejects.toBeInstanceOf(TargetRetryLaterError);
    expect(parseRetryAfter(new Date(Date.now() + 5000).toUTCString())).toBeGreaterThan(3000);
  });

  it('gives up after maxRetries and rejects 4xx at once', async () => {
    srv.failNext(10, { status: 502 });
    await expect(make({ maxRetries: 2 }).grant(member('a@x'), key)).rejects.toThrow(/gave up after 3 attempts/);
    srv.reset();
    srv.failNext(1, { status: 422 });
    await expect(target.grant(member('a@x'), key)).rejects.toBeInstanceOf(TargetRejectedError);
    expect(srv.requests).toHaveLength(1);
  });

  it('times out a slow target and retries', async () => {
    srv.latencyMs = 300;
    await expect(make({ timeout: '50ms', maxRetries: 1 }).get('a@x')).rejects.toThrow(/gave up/);
    srv.latencyMs = 0;
  });

  it('retries network errors', async () => {
    const dead = makeHttpTarget({ ...httpTargetSpec.parse({ baseUrl: 'http://127.0.0.1:1', retryBaseDelay: '1ms', maxRetries: 2 }), organization: 'acme' });
    await expect(dead.get('a@x')).rejects.toThrow(/gave up after 3 attempts/);
  });

  it('keeps its connections alive: many calls, few connections; close() ends them', async () => {
    let connections = 0;
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(404).end());
    });
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const t = makeHttpTarget({ ...httpTargetSpec.parse({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }), organization: 'acme' });
    for (let i = 0; i < 20; i++) expect(await t.get(`u${i}@x`)).toBeUndefined();
    await Promise.all(Array.from({ length: 4 }, (_, i) => t.revoke(`v${i}@x`, key)));
    // 24 calls; one connection for the sequential ones and one per concurrent call, give or take
    // a socket not yet back in the pool when the next call starts.
    expect(connections).toBeLessThanOrEqual(6);
    await t.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('a shutdown signal cuts a call short and rejects with its reason', async () => {
    srv.latencyMs = 5_000;
    const stop = new AbortController();
    const reason = new Error('shutting down');
    const call = target.get('a@x', stop.signal);
    setTimeout(() => stop.abort(reason), 50);
    const started = Date.now();
    await expect(call).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(2_000);
    srv.latencyMs = 0;
  });
});
