// Lookups that match at most one resource (userName eq, id eq: uniqueness "server", RFC 7643
// §2.1) are served by one prepared query without paging clauses (src/store/list.ts lookupRows):
// the paging rules of RFC 7644 §3.4.2.4 and cursor paging must hold exactly as on the general
// path, and the statement must really be prepared once per connection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFilter, matchesAtMostOne } from '../src/scim/filter.js';
import { USER_RESOURCE, GROUP_RESOURCE } from '../src/scim/schemas.js';
import { prepared } from '../src/store/pool.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
let s: TestServer;
let adaId: string;
beforeAll(async () => {
  s = await startTestServer();
  for (const userName of ['Ada@Example.com', 'grace@example.com']) {
    const res = await s.scim('/Users', { method: 'POST', body: { schemas: [USER], userName, emails: [{ value: userName, primary: true }] } });
    expect(res.status).toBe(201);
    if (userName.startsWith('Ada')) adaId = res.body.id;
  }
  const group = await s.scim('/Groups', { method: 'POST', body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Engineers', members: [{ value: adaId }] } });
  expect(group.status).toBe(201);
});
afterAll(async () => { await s.close(); });

const q = (filter: string, extra = '') => `/Users?filter=${encodeURIComponent(filter)}${extra}`;

describe('matchesAtMostOne', () => {
  const users = (f: string) => matchesAtMostOne(parseFilter(f, USER_RESOURCE));
  it('is true for equality on a unique attribute, alone or in an and', () => {
    expect(users('userName eq "a@example.com"')).toBe(true);
    expect(users('id eq "x"')).toBe(true);
    expect(users('userName eq "a@example.com" and active eq true')).toBe(true);
    expect(users('active eq true and id eq "x"')).toBe(true);
  });
  it('is false for anything that may match several', () => {
    expect(users('userName ne "a@example.com"')).toBe(false);
    expect(users('userName sw "a"')).toBe(false);
    expect(users('userName eq "a@example.com" or userName eq "b@example.com"')).toBe(false);
    expect(users('externalId eq "x"')).toBe(false);
    expect(users('emails.value eq "a@example.com"')).toBe(false);
    expect(users('not (userName eq "a@example.com")')).toBe(false);
    expect(matchesAtMostOne(parseFilter('displayName eq "x"', GROUP_RESOURCE))).toBe(false);
  });
});

describe('GET /Users?filter=userName eq … (one-query lookup)', () => {
  it('finds the user case-insensitively, with groups and a Content-Length (no chunked body)', async () => {
    const res = await s.scim(q('userName eq "ada@example.com"'));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ totalResults: 1, startIndex: 1, itemsPerPage: 1 });
    expect(res.body.Resources[0]).toMatchObject({ id: adaId, userName: 'Ada@Example.com', groups: [{ display: 'Engineers', type: 'direct' }] });
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(JSON.stringify(res.body))));
    expect(res.headers.get('transfer-encoding')).toBeNull();
  });
  it('answers an empty page for no match', async () => {
    const res = await s.scim(q('userName eq "nobody@example.com"'));
    expect(res.body).toEqual({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 0, startIndex: 1, Resources: [], itemsPerPage: 0 });
  });
  it('applies startIndex and count as the general path does (RFC 7644 §3.4.2.4)', async () => {
    const past = await s.scim(q('userName eq "ada@example.com"', '&startIndex=2'));
    expect(past.body).toMatchObject({ totalResults: 1, startIndex: 2, itemsPerPage: 0, Resources: [] });
    const none = await s.scim(q('userName eq "ada@example.com"', '&count=0'));
    expect(none.body).toMatchObject({ totalResults: 1, itemsPerPage: 0, Resources: [] });
  });
  it('serves cursor paging: the first page holds the user and no nextCursor', async () => {
    const res = await s.scim(q('userName eq "grace@example.com"', '&cursor=&count=10'));
    expect(res.status).toBe(200);
    expect(res.body.totalResults).toBe(1);
    expect(res.body.Resources.map((r: { userName: string }) => r.userName)).toEqual(['grace@example.com']);
    expect(res.body.nextCursor).toBeUndefined();
  });
  it('serves id eq, an and with another condition, and the attributes parameter', async () => {
    expect((await s.scim(q(`id eq "${adaId}"`))).body.Resources.map((r: { id: string }) => r.id)).toEqual([adaId]);
    expect((await s.scim(q('userName eq "ada@example.com" and active eq false'))).body.totalResults).toBe(0);
    const projected = await s.scim(q('userName eq "ada@example.com"', '&attributes=userName'));
    expect(Object.keys(projected.body.Resources[0]).sort()).toEqual(['id', 'schemas', 'userName']);
    expect((await s.scim(q('id eq "not-a-uuid"'))).body.totalResults).toBe(0);
  });
  it('does not find a deleted user, and finds a new one of the same userName', async () => {
    const made = await s.scim('/Users', { method: 'POST', body: { schemas: [USER], userName: 'temp@example.com' } });
    expect((await s.scim(`/Users/${made.body.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await s.scim(q('userName eq "temp@example.com"'))).body.totalResults).toBe(0);
    const again = await s.scim('/Users', { method: 'POST', body: { schemas: [USER], userName: 'temp@example.com' } });
    expect((await s.scim(q('userName eq "TEMP@example.com"'))).body.Resources.map((r: { id: string }) => r.id)).toEqual([again.body.id]);
  });
  it('runs as a prepared statement that Postgres plans once per connection, not per call', async () => {
    // pg_prepared_statements is per session: ask on one connection that ran the lookup.
    const client = await s.pool.connect();
    try {
      const cfg = prepared('select $1::int as n', [1]);
      expect(cfg.name).toMatch(/^scimsync_[0-9a-f]{24}$/);
      expect(prepared('select $1::int as n', [2]).name).toBe(cfg.name);
      expect(prepared('select $1::int as m', [2]).name).not.toBe(cfg.name);
      await client.query(cfg);
      await client.query(prepared('select $1::int as n', [3]));
      const { rows } = await client.query(`select name, generic_plans + custom_plans as plans from pg_prepared_statements where name = $1::text`, [cfg.name]);
      expect(rows).toEqual([{ name: cfg.name, plans: expect.any(String) }]);
    } finally {
      client.release();
    }
  });
});
