// Failed-authentication limits (issue 10): a client guessing tokens gets 429 + Retry-After
// with a SCIM error body once over its limit, without a database query per guess; valid
// clients on other addresses and organizations keep working.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scimAuthFailuresTotal } from '../src/metrics.js';
import { upsertOrganization } from '../src/store/orgs.js';
import { createToken } from '../src/store/tokens.js';
import { requestFrom } from './helpers/from.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const WRONG = `scimsync_aaaaaaaaaa_${'x'.repeat(43)}`;
let s: TestServer;
let otherToken: string;

beforeAll(async () => {
  s = await startTestServer({ org: 'limited', options: { authLimits: { windowMs: 60_000, perAddress: 30, perOrganization: 100 } } });
  const other = await upsertOrganization(s.pool, { organization: 'other' });
  otherToken = (await createToken(s.pool, other.id)).token;
});
afterAll(() => s.close());

const users = (org: string) => `${s.url}/scim/v2/${org}/Users`;
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

/** Counts the real pool's queries and checkouts while fn runs (the pool keeps working as ever). */
async function countPoolUse(fn: () => Promise<void>): Promise<number> {
  const pool = s.pool as unknown as { query: (...a: unknown[]) => unknown; connect: (...a: unknown[]) => unknown };
  const { query, connect } = pool;
  let n = 0;
  pool.query = (...a) => (n++, query.apply(s.pool, a));
  pool.connect = (...a) => (n++, connect.apply(s.pool, a));
  try {
    await fn();
  } finally {
    pool.query = query;
    pool.connect = connect;
  }
  return n;
}

describe('failed authentication limits', () => {
  it('600 wrong tokens from one address: 401 up to the limit, then 429 with Retry-After and a SCIM error', async () => {
    const counted = async (reason: string) => (await scimAuthFailuresTotal.get()).values.find((v) => v.labels.reason === reason && v.labels.organization === '')?.value ?? 0;
    const before = { unknown: await counted('unknown'), rateLimited: await counted('rate_limited') };
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof requestFrom>> | undefined;
    for (let i = 0; i < 600; i++) {
      last = await requestFrom('127.0.0.1', users('limited'), { headers: bearer(WRONG) });
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 30).every((x) => x === 401)).toBe(true);
    expect(statuses.slice(30).every((x) => x === 429)).toBe(true);
    expect(Number(last!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(last!.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(last!.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '429' });
    expect(last!.body.detail).toMatch(/too many failed authentication attempts/);
    // One counter, the 429s as reason rate_limited (docs/metrics.md).
    expect({ unknown: (await counted('unknown')) - before.unknown, rateLimited: (await counted('rate_limited')) - before.rateLimited }).toEqual({ unknown: 30, rateLimited: 570 });
    // The valid token from the refused address is refused too (the address is locked out)…
    expect((await requestFrom('127.0.0.1', users('limited'), { headers: bearer(s.token) })).status).toBe(429);
  });

  it('refused attempts cost no database query', async () => {
    const used = await countPoolUse(async () => {
      for (let i = 0; i < 50; i++) expect((await requestFrom('127.0.0.1', users('limited'), { headers: bearer(WRONG) })).status).toBe(429);
    });
    expect(used).toBe(0);
    // …while a wrong token from a fresh address is looked up (the count above is not vacuous).
    expect(await countPoolUse(async () => void (await requestFrom('127.0.0.250', users('limited'), { headers: bearer(WRONG) })))).toBeGreaterThan(0);
  });

  it('a correct token from another address works, for the attacked organization and another one', async () => {
    expect((await requestFrom('127.0.0.2', users('limited'), { headers: bearer(s.token) })).status).toBe(200);
    expect((await requestFrom('127.0.0.2', users('other'), { headers: bearer(otherToken) })).status).toBe(200);
  });

  it('over the organization limit, addresses that failed are refused after one attempt; clean ones still authenticate', async () => {
    // 30 (first test) failures so far on "limited"; spread 70 more over addresses .10–.79.
    for (let i = 0; i < 70; i++) expect((await requestFrom(`127.0.0.${10 + i}`, users('limited'), { headers: bearer(WRONG) })).status).toBe(401);
    const again = await requestFrom('127.0.0.10', users('limited'), { headers: bearer(WRONG) });
    expect(again.status).toBe(429);
    expect(again.body.detail).toMatch(/organization "limited"/);
    expect((await requestFrom('127.0.0.3', users('limited'), { headers: bearer(s.token) })).status).toBe(200);
    // Another organization is not affected by "limited"'s count.
    expect((await requestFrom('127.0.0.11', users('other'), { headers: bearer(otherToken) })).status).toBe(200);
  });
});
