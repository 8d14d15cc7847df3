// Issue 7, item 5: POST /.search at the SCIM root (RFC 7644 §3.4.3) returns Users and Groups as
// one list: an exact totalResults, index paging that reaches every resource across the type
// boundary, Group-only filters, sortBy across both types, and attributes rules per type.
// Real HTTP, real Postgres.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';

const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
let s: TestServer;
const users: string[] = [];
const groups: string[] = [];
let big: string;

beforeAll(async () => {
  s = await startTestServer({ org: 'rootsearch' });
  for (let i = 0; i < 5; i++) {
    users.push((await s.scim('/Users', { method: 'POST', body: { userName: `u${i}@example.com`, displayName: `${'edcba'[i]} user` } })).body.id);
  }
  const gone = (await s.scim('/Users', { method: 'POST', body: { userName: 'deleted@example.com' } })).body.id;
  await s.scim(`/Users/${gone}`, { method: 'DELETE' });
  for (let i = 0; i < 3; i++) {
    const members = i === 0 ? [{ value: users[0] }, { value: users[1] }] : [];
    groups.push((await s.scim('/Groups', { method: 'POST', body: { displayName: `${'cab'[i]} group`, members } })).body.id);
  }
});
afterAll(async () => { await s?.close(); });

const search = (body: Record<string, unknown>) => s.scim('/.search', { method: 'POST', body: { schemas: [SEARCH], ...body } });
const idsOf = (res: { body: { Resources: { id: string }[] } }) => res.body.Resources.map((r) => r.id);

describe('root /.search', () => {
  it('counts both types and pages across the boundary: every resource reachable exactly once', async () => {
    const seen: string[] = [];
    for (let start = 1; start <= 8; start += 3) {
      const res = await search({ startIndex: start, count: 3 });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ totalResults: 8, startIndex: start, itemsPerPage: Math.min(3, 9 - start) });
      seen.push(...idsOf(res));
    }
    expect(seen).toEqual([...users, ...groups]); // Users first, then Groups, each in creation order
  });

  it('a page that straddles the types holds the last users and the first groups', async () => {
    const res = await search({ startIndex: 5, count: 3 });
    expect(idsOf(res)).toEqual([users[4], groups[0], groups[1]]);
    expect(res.body.Resources.map((r: { meta: { resourceType: string } }) => r.meta.resourceType)).toEqual(['User', 'Group', 'Group']);
    expect(res.body.Resources[1].members).toHaveLength(2); // members are returned by default
  });

  it('count=1 answers one resource with the full total', async () => {
    const res = await search({ count: 1 });
    expect(res.body).toMatchObject({ totalResults: 8, itemsPerPage: 1 });
    expect(idsOf(res)).toEqual([users[0]]);
  });

  it('count=0 answers only the total; a startIndex past the end answers none', async () => {
    expect((await search({ count: 0 })).body).toMatchObject({ totalResults: 8, itemsPerPage: 0, Resources: [] });
    expect((await search({ startIndex: 20, count: 5 })).body).toMatchObject({ totalResults: 8, itemsPerPage: 0, Resources: [] });
  });

  it('a Group-only filter finds groups (it used to be a 400)', async () => {
    const res = await search({ filter: `members[value eq "${users[1]}"]` });
    expect(res.status, res.text).toBe(200);
    expect(res.body.totalResults).toBe(1);
    expect(idsOf(res)).toEqual([groups[0]]);
    const byType = await search({ filter: 'meta.resourceType eq "Group"', count: 2 });
    expect(byType.body.totalResults).toBe(3);
    expect(idsOf(byType)).toEqual(groups.slice(0, 2));
  });

  it('a User-only filter finds users; a filter on an attribute both have finds both', async () => {
    const u = await search({ filter: 'userName sw "u"' });
    expect(u.body.totalResults).toBe(5);
    const both = await search({ filter: 'displayName ew "a user" or displayName ew "a group"' });
    expect(idsOf(both).sort()).toEqual([users[4], groups[1]].sort());
  });

  it('sortBy interleaves the types; an attribute one type lacks sorts that type last', async () => {
    const res = await search({ sortBy: 'displayName', count: 4 });
    expect(res.body.totalResults).toBe(8);
    // a group, a user, b group, b user, c group, c user, d user, e user
    expect(idsOf(res)).toEqual([groups[1], users[4], groups[2], users[3]]);
    const desc = await search({ sortBy: 'displayName', sortOrder: 'descending', startIndex: 7, count: 5 });
    expect(idsOf(desc)).toEqual([users[4], groups[1]]);
    const byUserName = await search({ sortBy: 'userName', sortOrder: 'descending', count: 8 });
    expect(idsOf(byUserName)).toEqual([...[...users].reverse(), ...[...groups].reverse()]); // ties (no userName) in creation order, reversed as in /Groups
    expect((await search({ sortBy: 'favouriteColour' })).status).toBe(400);
  });

  it('attributes and excludedAttributes apply to both types', async () => {
    const res = await search({ startIndex: 5, count: 2, attributes: ['displayName'] });
    expect(res.body.Resources).toEqual([
      { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], id: users[4], displayName: 'a user' },
      { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], id: groups[0], displayName: 'c group' },
    ]);
    const ex = await search({ startIndex: 6, count: 1, excludedAttributes: ['members'] });
    expect(ex.body.Resources[0].members).toBeUndefined();
  });

  it('beside a group of 20,000 members, count=1 returns one user; the group page loads only its own members', async () => {
    big = (await s.scim('/Groups', { method: 'POST', body: { displayName: 'z big group' } })).body.id;
    await s.pool.query(
      `with u as (insert into scim_users (organization_id, user_name, resource)
                  select $1::uuid, 'bulk' || i || '@example.com', jsonb_build_object('userName', 'bulk' || i || '@example.com')
                    from generate_series(1, 20000) i returning id)
       insert into scim_group_members (group_id, member_id, member_type, organization_id) select $2::uuid, u.id, 'User', $1::uuid from u`,
      [s.organizationId, big],
    );
    const first = await search({ count: 1 });
    expect(first.body.totalResults).toBe(20009);
    expect(idsOf(first)).toEqual([users[0]]);
    const lastPage = await search({ startIndex: 20009, count: 5 });
    expect(idsOf(lastPage)).toEqual([big]);
    expect(lastPage.body.Resources[0].members).toHaveLength(20000);
    const groupsOnly = await search({ filter: 'meta.resourceType eq "Group"', excludedAttributes: ['members'] });
    expect(idsOf(groupsOnly)).toEqual([...groups, big]);
  });

  it('rejects what it cannot answer', async () => {
    expect((await search({ filter: 'favouriteColour eq "blue"' })).status).toBe(400);
    expect((await search({ filter: 'members[nosuch eq "x"]' })).body.scimType).toBe('invalidFilter');
    expect((await search({ cursor: '' })).status).toBe(400);
  });
});
