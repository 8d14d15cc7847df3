// A group write alone in its batch (groupWriter.ts, WriteAlone; groups.ts, writeGroupAlone):
// read unlocked, then one statement that locks the group at the version read and writes
// members, version, reconcile marker and audit entry together. These tests pin what that
// statement must keep from the locked path: what it writes, that it writes nothing when the
// group moved on between the read and the write (and then applies on the new version, or
// answers 412 to an If-Match of the old one), and the changes it leaves to the locked path.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

let s: TestServer;
const users: string[] = [];
beforeAll(async () => {
  s = await startTestServer({ org: 'alone' });
  for (let i = 0; i < 6; i++) {
    users.push((await s.scim('/Users', { method: 'POST', body: { userName: `alone${i}@example.com` } })).body.id);
  }
});
afterAll(async () => { await s.close(); });

const patch = (id: string, Operations: unknown[], headers?: Record<string, string>) =>
  s.scim(`/Groups/${id}`, { method: 'PATCH', body: { schemas: [PATCH], Operations }, headers });
const newGroup = async (displayName: string, members: string[] = []) =>
  (await s.scim('/Groups', { method: 'POST', body: { displayName, members: members.map((value) => ({ value })) } })).body as { id: string; meta: { version: string } };
const state = async (id: string) => {
  const { rows } = await s.pool.query<{ version: string; display_name: string }>('select version::text, display_name from scim_groups where id = $1::uuid', [id]);
  const members = await s.pool.query<{ member_id: string }>('select member_id::text from scim_group_members where group_id = $1::uuid order by member_id', [id]);
  return { version: Number(rows[0]!.version), displayName: rows[0]!.display_name, members: members.rows.map((r) => r.member_id) };
};
const queued = async () => {
  const { rows } = await s.pool.query<{ user_id: string | null }>('select user_id::text from reconcile_queue where organization_id = $1::uuid', [s.organizationId]);
  return rows.map((r) => r.user_id);
};
const clearQueue = () => s.pool.query('delete from reconcile_queue where organization_id = $1::uuid', [s.organizationId]);
const auditCount = async (id: string) =>
  Number((await s.pool.query('select count(*) from audit_log where resource_id = $1::text and operation = $2', [id, 'Group.patch'])).rows[0].count);

describe('a lone group PATCH', () => {
  it('adds and removes members, bumps the version once, marks exactly the touched users, records one audit entry', async () => {
    const g = await newGroup('alone-a', [users[0]!, users[1]!]);
    const before = await state(g.id);
    await clearQueue();
    const res = await patch(g.id, [
      { op: 'add', path: 'members', value: [{ value: users[2] }, { value: users[3] }, { value: users[0] }] },
      { op: 'remove', path: `members[value eq "${users[1]}"]` },
    ]);
    expect(res.status).toBe(204);
    const after = await state(g.id);
    expect(after.members).toEqual([users[0]!, users[2]!, users[3]!].sort());
    expect(after.version).toBe(before.version + 1);
    expect(res.headers.get('etag')).toBe(`W/"${after.version}"`);
    // users[0] was a member already: not touched, not marked.
    expect((await queued()).sort()).toEqual([users[1]!, users[2]!, users[3]!].sort());
    expect(await auditCount(g.id)).toBe(1);
  });

  it('changes nothing for members already there: same version, no marker, still audited; unknown ids are skipped', async () => {
    const g = await newGroup('alone-b', [users[0]!]);
    const before = await state(g.id);
    await clearQueue();
    const res = await patch(g.id, [{ op: 'add', path: 'members', value: [{ value: users[0] }, { value: '6b0d7a3e-0000-4000-8000-000000000000' }, { value: 'not-a-uuid' }] }]);
    expect(res.status).toBe(204);
    expect(await state(g.id)).toEqual(before);
    expect(res.headers.get('etag')).toBe(`W/"${before.version}"`);
    expect(await queued()).toEqual([]);
    expect(await auditCount(g.id)).toBe(1);
  });

  it('marks the whole organization for a rename and for a nested group member', async () => {
    const g = await newGroup('alone-c');
    const inner = await newGroup('alone-c-inner');
    await clearQueue();
    expect((await patch(g.id, [{ op: 'replace', path: 'displayName', value: 'alone-c2' }])).status).toBe(204);
    expect(await state(g.id)).toMatchObject({ displayName: 'alone-c2', members: [] });
    expect(await queued()).toEqual([null]);
    await clearQueue();
    expect((await patch(g.id, [{ op: 'add', path: 'members', value: [{ value: inner.id }] }])).status).toBe(204);
    expect((await state(g.id)).members).toEqual([inner.id]);
    expect(await queued()).toEqual([null]);
  });

  it('a remove then an add of the same member leaves it a member, unchanged (the PATCH nets them, src/scim/patch/members.ts)', async () => {
    const g = await newGroup('alone-d', [users[4]!]);
    const v0 = (await state(g.id)).version;
    const res = await patch(g.id, [
      { op: 'remove', path: `members[value eq "${users[4]}"]` },
      { op: 'add', path: 'members', value: [{ value: users[4] }] },
    ]);
    expect(res.status).toBe(204);
    expect(await state(g.id)).toMatchObject({ members: [users[4]!], version: v0 });
  });

  describe('after a lone write, the next one starts from the row it left (no read)', () => {
    /** Statements the app sends to read a group (getGroup) while `fn` runs. */
    async function groupReads(fn: () => Promise<void>): Promise<number> {
      const spy = vi.spyOn(s.pool, 'query');
      try {
        await fn();
        return spy.mock.calls.filter(([q]) => /^select .* from scim_groups g where g\.organization_id = \$1::uuid and g\.id = \$2::uuid$/s.test(typeof q === 'string' ? q : (q as { text: string }).text)).length;
      } finally {
        spy.mockRestore();
      }
    }

    it('sequential member PATCHes read the group once', async () => {
      const g = await newGroup('alone-h');
      const v0 = (await state(g.id)).version;
      const reads = await groupReads(async () => {
        for (const u of users.slice(0, 4)) expect((await patch(g.id, [{ op: 'add', path: 'members', value: [{ value: u }] }])).status).toBe(204);
      });
      expect(reads).toBe(1);
      expect(await state(g.id)).toMatchObject({ version: v0 + 4, members: users.slice(0, 4).sort() });
    });

    it('a group changed elsewhere since: the write lands on the current version, keeping that change', async () => {
      const g = await newGroup('alone-i');
      expect((await patch(g.id, [{ op: 'add', path: 'members', value: [{ value: users[0] }] }])).status).toBe(204);
      await s.pool.query(`update scim_groups set version = version + 1, display_name = 'alone-i elsewhere', resource = resource || '{"displayName":"alone-i elsewhere"}' where id = $1::uuid`, [g.id]);
      const v = (await state(g.id)).version;
      // If-Match of the version as it is now, which the cached row does not have: no 412.
      const res = await patch(g.id, [{ op: 'add', path: 'members', value: [{ value: users[1] }] }], { 'If-Match': `W/"${v}"` });
      expect(res.status).toBe(204);
      expect(res.headers.get('etag')).toBe(`W/"${v + 1}"`);
      expect(await state(g.id)).toEqual({ version: v + 1, displayName: 'alone-i elsewhere', members: [users[0]!, users[1]!].sort() });
      // A rename computed on the current row, not on the cached one.
      const body = (await s.scim(`/Groups/${g.id}`)).body;
      expect(body.displayName).toBe('alone-i elsewhere');
    });

    it('a stale If-Match is still 412 and a group deleted elsewhere is 404', async () => {
      const g = await newGroup('alone-j');
      expect((await patch(g.id, [{ op: 'add', path: 'members', value: [{ value: users[0] }] }])).status).toBe(204);
      const v = (await state(g.id)).version;
      expect((await patch(g.id, [{ op: 'add', path: 'members', value: [{ value: users[1] }] }], { 'If-Match': `W/"${v - 1}"` })).status).toBe(412);
      await s.pool.query('delete from scim_groups where id = $1::uuid', [g.id]);
      expect((await patch(g.id, [{ op: 'add', path: 'members', value: [{ value: users[2] }] }])).status).toBe(404);
    });
  });

  describe('when the group changes between the read and the write', () => {
    /**
     * Holds the group's row lock in another session, sends the PATCH (it reads the unlocked
     * version, then waits on the lock), then bumps the version and commits: the PATCH's
     * statement finds the group no longer at the version it read. `meanwhile`: what the other
     * session does to the group before it commits.
     */
    const bump = `update scim_groups set version = version + 1, display_name = display_name || '!' where id = $1::uuid`;
    async function raced(id: string, send: () => Promise<{ status: number; headers: Headers }>, meanwhile = bump) {
      const holder = new pg.Client({ connectionString: s.db.url });
      await holder.connect();
      try {
        await holder.query('begin');
        await holder.query('select 1 from scim_groups where id = $1::uuid for update', [id]);
        const sent = send();
        // Until the PATCH's statement waits for the lock (it has read the version by then).
        for (let i = 0; ; i++) {
          const { rows } = await s.pool.query(
            `select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%scim_group_members%'`,
          );
          if (rows.length) break;
          if (i > 500) throw new Error('the PATCH never waited for the group lock');
          await new Promise((r) => setTimeout(r, 10));
        }
        await holder.query(meanwhile, [id]);
        await holder.query('commit');
        return await sent;
      } finally {
        await holder.end();
      }
    }

    it('applies the PATCH on the new version (no member lost, version bumped twice)', async () => {
      const g = await newGroup('alone-e', [users[0]!]);
      const v0 = (await state(g.id)).version;
      const res = await raced(g.id, () => patch(g.id, [{ op: 'add', path: 'members', value: [{ value: users[5] }] }]));
      expect(res.status).toBe(204);
      const after = await state(g.id);
      expect(after).toEqual({ version: v0 + 2, displayName: 'alone-e!', members: [users[0]!, users[5]!].sort() });
      expect(res.headers.get('etag')).toBe(`W/"${v0 + 2}"`);
      expect(await auditCount(g.id)).toBe(1);
    });

    it('answers 412 to an If-Match of the version read, and writes nothing', async () => {
      const g = await newGroup('alone-f', [users[0]!]);
      const v0 = (await state(g.id)).version;
      const res = await raced(g.id, () => patch(g.id, [{ op: 'add', path: 'members', value: [{ value: users[5] }] }], { 'If-Match': `W/"${v0}"` }));
      expect(res.status).toBe(412);
      expect(await state(g.id)).toEqual({ version: v0 + 1, displayName: 'alone-f!', members: [users[0]!] });
      expect(await auditCount(g.id)).toBe(0);
    });

    it('answers 404 when the group was deleted meanwhile', async () => {
      const g = await newGroup('alone-g');
      const res = await raced(g.id, () => patch(g.id, [{ op: 'add', path: 'members', value: [{ value: users[5] }] }]), 'delete from scim_groups where id = $1::uuid');
      expect(res.status).toBe(404);
      expect((await s.pool.query('select count(*) from scim_group_members where group_id = $1::uuid', [g.id])).rows[0].count).toBe('0');
    });
  });
});
