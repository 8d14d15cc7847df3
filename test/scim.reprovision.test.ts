// Issue 7, item 4: a POST whose userName matches an *inactive* user re-provisions that user.
// When its externalId differs from the stored one, it is a different person who got a reused
// address (Okta and Entra both send their own user id as externalId): the re-provisioned user
// starts with no group memberships. With the same or no externalId, memberships stay.
// Real HTTP, real Postgres; the reconciler sees the same rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
let s: TestServer;
let groupId: string;

beforeAll(async () => {
  s = await startTestServer({ org: 'reprovision' });
  groupId = (await s.scim('/Groups', { method: 'POST', body: { displayName: 'Payroll Admins' } })).body.id;
});
afterAll(async () => { await s?.close(); });

/** Creates a user in the group, then deactivates it as Okta does (it never deletes users). */
async function formerEmployee(userName: string, externalId?: string): Promise<string> {
  const res = await s.scim('/Users', { method: 'POST', body: { userName, ...(externalId && { externalId }), active: true } });
  expect(res.status).toBe(201);
  const add = await s.scim(`/Groups/${groupId}`, { method: 'PATCH', body: { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: res.body.id }] }] } });
  expect(add.status).toBe(204);
  const off = await s.scim(`/Users/${res.body.id}`, { method: 'PATCH', body: { schemas: [PATCH], Operations: [{ op: 'replace', value: { active: false } }] } });
  expect(off.status).toBeLessThan(300);
  return res.body.id;
}

const groupMembers = async () => ((await s.scim(`/Groups/${groupId}`)).body.members ?? []).map((m: { value: string }) => m.value);
const groupVersion = async () => (await s.scim(`/Groups/${groupId}?excludedAttributes=members`)).body.meta.version as string;

describe('re-provisioning an inactive user', () => {
  it('Okta: a reused address for a new hire (different externalId) starts with no group memberships', async () => {
    const id = await formerEmployee('pat@corp.example', '00u1oldperson');
    const before = await groupVersion();
    const res = await s.scim('/Users', { method: 'POST', body: { userName: 'Pat@corp.example', externalId: '00u9newhire', active: true } });
    expect(res.status, res.text).toBe(201);
    expect(res.body.id).toBe(id); // the same record, re-provisioned
    expect(res.body.externalId).toBe('00u9newhire');
    expect(res.body.groups).toBeUndefined();
    expect(await groupMembers()).not.toContain(id);
    expect(await groupVersion()).not.toBe(before); // the group changed too
    const { rows } = await s.pool.query('select count(*)::int as n from scim_group_members where member_id = $1', [id]);
    expect(rows[0].n).toBe(0);
  });

  it('Entra: externalId differing only in case is another person too (externalId is caseExact)', async () => {
    const id = await formerEmployee('case@corp.example', 'ABC-1');
    const res = await s.scim('/Users', { method: 'POST', body: { userName: 'case@corp.example', externalId: 'abc-1', active: 'True' } });
    expect(res.status).toBe(201);
    expect(await groupMembers()).not.toContain(id);
  });

  it('the same person re-enabled by POSTing again (same externalId) keeps the memberships', async () => {
    const id = await formerEmployee('sam@corp.example', '00u1sam');
    const res = await s.scim('/Users', { method: 'POST', body: { userName: 'sam@corp.example', externalId: '00u1sam', active: true } });
    expect(res.status).toBe(201);
    expect(res.body.groups.map((g: { value: string }) => g.value)).toEqual([groupId]);
    expect(await groupMembers()).toContain(id);
  });

  it('a POST without externalId keeps the memberships (nothing tells the persons apart)', async () => {
    const id = await formerEmployee('lee@corp.example', '00u1lee');
    const res = await s.scim('/Users', { method: 'POST', body: { userName: 'lee@corp.example', active: true } });
    expect(res.status).toBe(201);
    expect(await groupMembers()).toContain(id);
  });

  it('a stored user without externalId keeps the memberships when the POST brings one', async () => {
    const id = await formerEmployee('kim@corp.example');
    const res = await s.scim('/Users', { method: 'POST', body: { userName: 'kim@corp.example', externalId: '00u1kim', active: true } });
    expect(res.status).toBe(201);
    expect(await groupMembers()).toContain(id);
  });

  it('an active user with that userName is still a 409, whatever the externalId', async () => {
    const res = await s.scim('/Users', { method: 'POST', body: { userName: 'on@corp.example', externalId: 'x-1' } });
    expect(res.status).toBe(201);
    const again = await s.scim('/Users', { method: 'POST', body: { userName: 'on@corp.example', externalId: 'x-2' } });
    expect(again.status).toBe(409);
  });
});
