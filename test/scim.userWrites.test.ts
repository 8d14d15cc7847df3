// User writes are optimistic (src/store/users.ts updateUser): read, change in memory, write back
// only at the version read, else read again, and after a few lost races under the row lock.
// Concurrent PATCHes of one user must never lose an update, and each must be answered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
let s: TestServer;
beforeAll(async () => { s = await startTestServer(); });
afterAll(async () => { await s.close(); });

describe('concurrent writes to one user', () => {
  it('40 concurrent PATCHes each adding an email: all 40 kept, version bumped 40 times, 40 audit entries', async () => {
    const made = await s.scim('/Users', { method: 'POST', body: { schemas: [USER], userName: 'busy@example.com' } });
    const id = made.body.id;
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        s.scim(`/Users/${id}`, { method: 'PATCH', body: { schemas: [PATCH], Operations: [{ op: 'add', path: 'emails', value: [{ value: `e${i}@example.com`, type: 'other' }] }] } }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(40).fill(200));
    const after = await s.scim(`/Users/${id}`);
    expect(after.body.emails.map((e: { value: string }) => e.value).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `e${i}@example.com`).sort());
    expect(after.body.meta.version).toBe('W/"41"');
    const { rows } = await s.pool.query(`select count(*)::int as n from audit_log where resource_id = $1::text and operation = 'User.patch'`, [id]);
    expect(rows[0].n).toBe(40);
    const queued = await s.pool.query(`select count(*)::int as n from reconcile_queue where user_id = $1::uuid`, [id]);
    expect(queued.rows[0].n).toBe(1);
  });

  it('If-Match at a version a concurrent write replaced is 412, and the write is not applied', async () => {
    const made = await s.scim('/Users', { method: 'POST', body: { schemas: [USER], userName: 'etag@example.com' } });
    const id = made.body.id;
    const first = await s.scim(`/Users/${id}`, { method: 'PATCH', body: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'One' }] } });
    expect(first.status).toBe(200);
    const stale = await s.scim(`/Users/${id}`, { method: 'PATCH', headers: { 'If-Match': 'W/"1"' }, body: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'Two' }] } });
    expect(stale.status).toBe(412);
    expect((await s.scim(`/Users/${id}`)).body.displayName).toBe('One');
  });

  it('a PATCH racing a DELETE of the user is 404 or applied before it, never a 500 or a resurrected user', async () => {
    for (let round = 0; round < 10; round++) {
      const made = await s.scim('/Users', { method: 'POST', body: { schemas: [USER], userName: `gone${round}@example.com` } });
      const id = made.body.id;
      const [patch, del] = await Promise.all([
        s.scim(`/Users/${id}`, { method: 'PATCH', body: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: false }] } }),
        s.scim(`/Users/${id}`, { method: 'DELETE' }),
      ]);
      expect([200, 404]).toContain(patch.status);
      expect(del.status).toBe(204);
      expect((await s.scim(`/Users/${id}`)).status).toBe(404);
    }
  });
});
