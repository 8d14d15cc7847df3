// /Groups over real HTTP and Postgres: CRUD, member PATCHes touching only named rows,
// excludedAttributes=members, big groups and concurrent PATCHes that must not lose members.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

let s: TestServer;
const userIds: string[] = [];
beforeAll(async () => {
  s = await startTestServer();
  for (let i = 0; i < 5; i++) {
    const res = await s.scim('/Users', { method: 'POST', body: { userName: `g${i}@example.com`, displayName: `G ${i}` } });
    userIds.push(res.body.id);
  }
});
afterAll(async () => { await s.close(); });

const patch = (id: string, Operations: unknown[], headers?: Record<string, string>) =>
  s.scim(`/Groups/${id}`, { method: 'PATCH', body: { schemas: [PATCH], Operations }, headers });
/** Inserts n users straight into the table (faster than n POSTs); returns their ids as rows. */
async function seedUsers(prefix: string, n: number): Promise<{ id: string }[]> {
  const { rows } = await s.pool.query<{ id: string }>(
    `insert into scim_users (organization_id, user_name, resource)
     select $1::uuid, $2::text || i || '@example.com', jsonb_build_object('userName', $2::text || i || '@example.com')
       from generate_series(1, $3::int) i returning id`,
    [s.organizationId, prefix, n],
  );
  return rows;
}
const memberIds = async (id: string) =>
  ((await s.scim(`/Groups/${id}`)).body.members ?? []).map((m: { value: string }) => m.value).sort();

describe('Groups CRUD', () => {
  it('creates a group with members and reads it back with display names', async () => {
    const res = await s.scim('/Groups', { method: 'POST', body: { schemas: [GROUP], displayName: 'Engineering', externalId: 'eng', members: [{ value: userIds[0] }, { value: userIds[1], type: 'User' }] } });
    expect(res.status).toBe(201);
    expect(res.body.displayName).toBe('Engineering');
    expect(res.body.meta.resourceType).toBe('Group');
    expect(res.body.members).toHaveLength(2);
    const m0 = res.body.members.find((m: { value: string }) => m.value === userIds[0]);
    expect(m0).toMatchObject({ value: userIds[0], display: 'G 0', type: 'User' });
    expect(m0.$ref).toBe(`${s.baseUrl}/Users/${userIds[0]}`);
    const user = await s.scim(`/Users/${userIds[0]}`);
    expect(user.body.groups).toEqual([expect.objectContaining({ value: res.body.id, display: 'Engineering' })]);
  });


  it('filters groups by displayName and member, and never loads members when excluded', async () => {
    const eq = await s.scim('/Groups?filter=' + encodeURIComponent('displayName eq "engineering"'));
    expect(eq.body.totalResults).toBe(1);
    const byMember = await s.scim('/Groups?filter=' + encodeURIComponent(`members[value eq "${userIds[1]}"]`));
    expect(byMember.body.totalResults).toBe(1);
    const ex = await s.scim(`/Groups/${eq.body.Resources[0].id}?excludedAttributes=members`);
    expect(ex.status).toBe(200);
    expect(ex.body.members).toBeUndefined();
    expect(ex.body.displayName).toBe('Engineering');
  });

  it('replaces a group with PUT (members too) and deletes it', async () => {
    const g = (await s.scim('/Groups', { method: 'POST', body: { displayName: 'Temp', members: [{ value: userIds[0] }] } })).body;
    const put = await s.scim(`/Groups/${g.id}`, { method: 'PUT', body: { displayName: 'Temp 2', members: [{ value: userIds[2] }, { value: userIds[3] }] } });
    expect(put.status).toBe(200);
    expect(put.body.displayName).toBe('Temp 2');
    expect(put.body.members.map((m: { value: string }) => m.value).sort()).toEqual([userIds[2], userIds[3]].sort());
    expect((await s.scim(`/Groups/${g.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await s.scim(`/Groups/${g.id}`)).status).toBe(404);
  });
});

describe('PATCH members', () => {
  let id: string;
  beforeAll(async () => {
    id = (await s.scim('/Groups', { method: 'POST', body: { displayName: 'Patchable' } })).body.id;
  });

  it('adds, removes by filter, removes by value list, replaces and removes all', async () => {
    expect((await patch(id, [{ op: 'add', path: 'members', value: [{ value: userIds[0] }, { value: userIds[1] }, { value: userIds[2] }] }])).status).toBe(204);
    expect(await memberIds(id)).toEqual([userIds[0], userIds[1], userIds[2]].sort());
    await patch(id, [{ op: 'remove', path: `members[value eq "${userIds[0]}"]` }]);
    expect(await memberIds(id)).toEqual([userIds[1], userIds[2]].sort());
    await patch(id, [{ op: 'Remove', path: 'members', value: [{ value: userIds[1] }] }]);
    expect(await memberIds(id)).toEqual([userIds[2]]);
    await patch(id, [{ op: 'replace', path: 'members', value: [{ value: userIds[3] }, { value: userIds[4] }] }]);
    expect(await memberIds(id)).toEqual([userIds[3], userIds[4]].sort());
    await patch(id, [{ op: 'remove', path: 'members' }]);
    expect(await memberIds(id)).toEqual([]);
  });

  it('answers 204 whoever the client is, and 200 with the projected group when attributes are asked for (RFC 7644 §3.5.2)', async () => {
    const body = { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: userIds[0] }] }] };
    const okta = await s.scim(`/Groups/${id}`, { method: 'PATCH', headers: { 'user-agent': 'Okta SCIM Client 1.0.0' }, body });
    expect(okta.status, okta.text).toBe(204);
    expect(okta.headers.get('etag')).toMatch(/^W\/"\d+"$/);
    const asked = await s.scim(`/Groups/${id}?excludedAttributes=members`, { method: 'PATCH', body: { ...body, Operations: [{ op: 'replace', path: 'displayName', value: 'Patchable' }] } });
    expect(asked.status, asked.text).toBe(200);
    expect(asked.body).toMatchObject({ id, displayName: 'Patchable' });
    expect(asked.body.members).toBeUndefined();
    await patch(id, [{ op: 'remove', path: 'members' }]);
  });

  it('applies all operations or none', async () => {
    await patch(id, [{ op: 'add', path: 'members', value: [{ value: userIds[0] }] }]);
    const res = await patch(id, [
      { op: 'add', path: 'members', value: [{ value: userIds[1] }] },
      { op: 'replace', path: 'displayName', value: 'Renamed' },
      { op: 'add', path: 'members', value: [{ value: userIds[2], type: 'Device' }] },
    ]);
    expect(res.status).toBe(400);
    expect(await memberIds(id)).toEqual([userIds[0]]);
    expect((await s.scim(`/Groups/${id}`)).body.displayName).toBe('Patchable');
  });

  it('touches only the member rows a PATCH names', async () => {
    const before = await s.pool.query('select member_id, added_at from scim_group_members where group_id = $1', [id]);
    await patch(id, [{ op: 'add', path: 'members', value: [{ value: userIds[2] }] }]);
    const after = await s.pool.query('select member_id, added_at from scim_group_members where group_id = $1 and member_id = $2', [id, userIds[0]]);
    expect(after.rows[0].added_at).toBe(before.rows[0].added_at);
  });
});

describe('large groups and concurrency', () => {
  it('holds 20,000 members added in PATCHes of 1,000 and serves the group without them', async () => {
    const rows = await seedUsers('bulk', 20000);
    const ids = rows.map((r) => r.id);
    const g = (await s.scim('/Groups', { method: 'POST', body: { displayName: 'Everyone' } })).body;
    for (let i = 0; i < ids.length; i += 1000) {
      const res = await patch(g.id, [{ op: 'add', path: 'members', value: ids.slice(i, i + 1000).map((value) => ({ value })) }]);
      expect(res.status).toBe(204);
    }
    const count = await s.pool.query('select count(*)::int as n from scim_group_members where group_id = $1', [g.id]);
    expect(count.rows[0].n).toBe(20000);
    const lean = await s.scim(`/Groups/${g.id}?excludedAttributes=members`);
    expect(lean.status).toBe(200);
    expect(lean.text.length).toBeLessThan(2000);
    const removed = await patch(g.id, [{ op: 'remove', path: `members[value eq "${ids[123]}"]` }]);
    expect(removed.status).toBe(204);
    const after = await s.pool.query('select count(*)::int as n from scim_group_members where group_id = $1', [g.id]);
    expect(after.rows[0].n).toBe(19999);
  });

  it('loses no member when 50 PATCHes add members to one group in parallel', async () => {
    const rows = await seedUsers('par', 50);
    const g = (await s.scim('/Groups', { method: 'POST', body: { displayName: 'Parallel' } })).body;
    const results = await Promise.all(rows.map((r) => patch(g.id, [{ op: 'Add', path: 'members', value: [{ value: r.id }] }])));
    expect(results.map((r) => r.status)).toEqual(rows.map(() => 204));
    expect((await memberIds(g.id)).length).toBe(50);
    // and removing them in parallel, mixed with adds of new ones, ends exactly right
    const mixed = await Promise.all(rows.map((r, i) => (i % 2 ? patch(g.id, [{ op: 'remove', path: `members[value eq "${r.id}"]` }]) : patch(g.id, [{ op: 'add', path: 'members', value: [{ value: userIds[i % 5] }] }]))));
    expect(mixed.every((r) => r.status === 204)).toBe(true);
    const expected = new Set([...rows.filter((_, i) => i % 2 === 0).map((r) => r.id as string), ...userIds]);
    expect(await memberIds(g.id)).toEqual([...expected].sort());
    const version = (await s.scim(`/Groups/${g.id}`)).body.meta.version;
    expect(version).toMatch(/^W\/"\d+"$/);
  });
});

describe('concurrent member PATCHes, renames and user deletions on one group', () => {
  it('all succeed and the result is what some serial order gives', async () => {
    const rows = await seedUsers('mix', 30);
    const ids = rows.map((r) => r.id);
    const g = (await s.scim('/Groups', { method: 'POST', body: { displayName: 'Mixed', members: ids.slice(20).map((value) => ({ value })) } })).body;
    const requests = [
      ...ids.slice(0, 20).map((id) => patch(g.id, [{ op: 'add', path: 'members', value: [{ value: id }] }])),
      ...[1, 2, 3, 4, 5].map((n) => patch(g.id, [{ op: 'replace', path: 'displayName', value: `Mixed ${n}` }, { op: 'add', path: 'members', value: [{ value: ids[n - 1] }] }])),
      ...ids.slice(25).map((id) => s.scim(`/Users/${id}`, { method: 'DELETE' })),
    ];
    const results = await Promise.all(requests);
    expect(results.map((r) => r.status)).toEqual(requests.map(() => 204));
    const after = (await s.scim(`/Groups/${g.id}`)).body;
    expect(after.displayName).toMatch(/^Mixed [1-5]$/);
    expect(after.members.map((m: { value: string }) => m.value).sort()).toEqual(ids.slice(0, 25).sort());
  });
});

describe('nested groups', () => {
  it('deleting a group that is a member of another bumps the parent version', async () => {
    const child = (await s.scim('/Groups', { method: 'POST', body: { displayName: 'Child' } })).body;
    const parent = (await s.scim('/Groups', { method: 'POST', body: { displayName: 'Parent', members: [{ value: child.id, type: 'Group' }] } })).body;
    expect(parent.members).toEqual([expect.objectContaining({ value: child.id, type: 'Group', $ref: `${s.baseUrl}/Groups/${child.id}` })]);
    expect((await s.scim(`/Groups/${child.id}`, { method: 'DELETE' })).status).toBe(204);
    const after = (await s.scim(`/Groups/${parent.id}`)).body;
    expect(after.members ?? []).toEqual([]);
    expect(after.meta.version).not.toBe(parent.meta.version);
  });
});

describe('a user\'s groups attribute', () => {
  it('is served on GET, list, PUT (also when nothing changed) and PATCH with attributes', async () => {
    const u = (await s.scim('/Users', { method: 'POST', body: { userName: 'member-of@example.com', displayName: 'Member' } })).body;
    expect(u.groups).toBeUndefined();
    const g = (await s.scim('/Groups', { method: 'POST', body: { displayName: 'Readers', members: [{ value: u.id }] } })).body;
    const expected = [expect.objectContaining({ value: g.id, display: 'Readers', type: 'direct', $ref: `${s.baseUrl}/Groups/${g.id}` })];
    expect((await s.scim(`/Users/${u.id}`)).body.groups).toEqual(expected);
    const list = await s.scim('/Users?filter=' + encodeURIComponent('userName eq "member-of@example.com"'));
    expect(list.body.Resources[0].groups).toEqual(expected);
    const same = await s.scim(`/Users/${u.id}`, { method: 'PUT', body: { userName: 'member-of@example.com', displayName: 'Member' } });
    expect(same.body.meta.version).toBe(u.meta.version);
    expect(same.body.groups).toEqual(expected);
    const patched = await s.scim(`/Users/${u.id}?attributes=groups`, { method: 'PATCH', body: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'M' }] } });
    expect(patched.body.groups).toEqual(expected);
    expect((await s.scim(`/Users/${u.id}?excludedAttributes=groups`)).body.groups).toBeUndefined();
  });
});

// Writes to one group in flight together share one transaction, each request in its own
// savepoint (src/store/groupWriter.ts). These tests hold the group row lock from a client of
// their own so that the requests they send pile up and provably run as one batch.
describe('batched writes to one group', () => {
  const makeUsers = async (n: number, prefix: string) => (await seedUsers(prefix, n)).map((r) => r.id);
  const versionOf = async (id: string) => Number((await s.pool.query('select version from scim_groups where id = $1', [id])).rows[0].version);
  const etagVersion = (r: { headers: Headers }) => Number(/^W\/"(\d+)"$/.exec(r.headers.get('etag') ?? '')?.[1]);

  /** Runs `send` while the group row is locked, releases the lock once a batch waits on it. */
  async function whileLocked<T>(groupId: string, send: () => Promise<T>): Promise<T> {
    const blocker = await s.pool.connect();
    try {
      await blocker.query('begin');
      await blocker.query('select 1 from scim_groups where id = $1 for update', [groupId]);
      const pending = send();
      for (let i = 0; i < 200; i++) {
        const { rows } = await s.pool.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`);
        if (rows[0].n > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 150)); // the rest of the requests reach the queue
      await blocker.query('commit');
      return await pending;
    } finally {
      await blocker.query('rollback').catch(() => {}); // no-op after commit; frees the lock on failure
      blocker.release();
    }
  }

  it('fails only the requests that fail (invalid member, If-Match, partial PATCH); the others all land', async () => {
    const ids = await makeUsers(21, 'batch');
    const keep = ids[20]!;
    const g = (await s.scim('/Groups', { method: 'POST', body: { displayName: 'Batched', members: [{ value: keep }] } })).body;
    const v0 = await versionOf(g.id);
    const bogus = '00000000-0000-4000-8000-00000000dead';
    const results = await whileLocked(g.id, () =>
      Promise.all([
        ...ids.slice(0, 10).map((id) => patch(g.id, [{ op: 'Add', path: 'members', value: [{ value: id }] }])),
        patch(g.id, [{ op: 'Add', path: 'members', value: [{ value: bogus }] }]),
        patch(g.id, [{ op: 'Add', path: 'members', value: [{ value: ids[10] }] }], { 'If-Match': 'W/"999999"' }),
        // a remove then an invalid member: the request fails whole, the others land
        patch(g.id, [{ op: 'remove', path: `members[value eq "${keep}"]` }, { op: 'add', path: 'members', value: [{ value: ids[10], type: 'Device' }] }]),
        patch(g.id, [{ op: 'bogus', path: 'members' }]),
        ...ids.slice(11, 20).map((id) => patch(g.id, [{ op: 'Add', path: 'members', value: [{ value: id }] }])),
      ]),
    );
    const statuses = results.map((r) => r.status);
    // The unknown member is skipped (issue 7): a 204 that changes nothing and bumps no version.
    expect(statuses).toEqual([...Array(10).fill(204), 204, 412, 400, 400, ...Array(9).fill(204)]);
    expect(await memberIds(g.id)).toEqual([...ids.slice(0, 10), ...ids.slice(11, 20), keep].sort());
    // each success that changed something bumped the version once: the ETags are v0+1 … v0+19, all different
    const versions = results.filter((r, i) => r.status === 204 && i !== 10).map(etagVersion).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 19 }, (_, i) => v0 + 1 + i));
    expect(await versionOf(g.id)).toBe(v0 + 19);
    // the last ETag is the current state: a conditional write with it succeeds
    const last = await patch(g.id, [{ op: 'Add', path: 'members', value: [{ value: ids[10] }] }], { 'If-Match': `W/"${v0 + 19}"` });
    expect(last.status).toBe(204);
    expect(etagVersion(last)).toBe(v0 + 20);
  });

  it('serves 100 concurrent adds to one group: all 204, 100 members, version + 100', async () => {
    const ids = await makeUsers(100, 'hundred');
    const g = (await s.scim('/Groups', { method: 'POST', body: { displayName: 'Hundred' } })).body;
    const v0 = await versionOf(g.id);
    const results = await Promise.all(ids.map((id) => patch(g.id, [{ op: 'Add', path: 'members', value: [{ value: id }] }])));
    expect(results.map((r) => r.status)).toEqual(ids.map(() => 204));
    expect(await memberIds(g.id)).toEqual([...ids].sort());
    expect(await versionOf(g.id)).toBe(v0 + 100);
    expect(new Set(results.map(etagVersion)).size).toBe(100);
  });

  it('more requests than one batch holds (64) wait for the next batch and all land', async () => {
    const ids = await makeUsers(150, 'overflow');
    const g = (await s.scim('/Groups', { method: 'POST', body: { displayName: 'Overflow' } })).body;
    const v0 = await versionOf(g.id);
    const results = await whileLocked(g.id, () => Promise.all(ids.map((id) => patch(g.id, [{ op: 'Add', path: 'members', value: [{ value: id }] }]))));
    expect(results.every((r) => r.status === 204)).toBe(true);
    expect((await memberIds(g.id)).length).toBe(150);
    expect(await versionOf(g.id)).toBe(v0 + 150);
  });

  it('writes to two different groups do not wait for each other', async () => {
    const ids = await makeUsers(40, 'two');
    const a = (await s.scim('/Groups', { method: 'POST', body: { displayName: 'Two A' } })).body;
    const b = (await s.scim('/Groups', { method: 'POST', body: { displayName: 'Two B' } })).body;
    const blocker = await s.pool.connect();
    try {
      await blocker.query('begin');
      await blocker.query('select 1 from scim_groups where id = $1 for update', [a.id]);
      let aSettled = false;
      const toA = Promise.all(ids.slice(0, 20).map((id) => patch(a.id, [{ op: 'Add', path: 'members', value: [{ value: id }] }])));
      void toA.finally(() => (aSettled = true));
      // A's batch is stuck on its row lock (held above) and A's other writes queue behind it;
      // B's writes must complete meanwhile (were they queued behind A, this would hang).
      const toB = await Promise.all(ids.slice(20).map((id) => patch(b.id, [{ op: 'Add', path: 'members', value: [{ value: id }] }])));
      expect(toB.every((r) => r.status === 204)).toBe(true);
      expect(aSettled).toBe(false);
      await blocker.query('commit');
      expect((await toA).every((r) => r.status === 204)).toBe(true);
    } finally {
      await blocker.query('rollback').catch(() => {}); // no-op after commit; frees the lock on failure
      blocker.release();
    }
    expect(await memberIds(a.id)).toEqual(ids.slice(0, 20).sort());
    expect(await memberIds(b.id)).toEqual(ids.slice(20).sort());
  });
});
