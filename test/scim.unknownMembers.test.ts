// Issue 7, item 3: a Group write whose member list names an id that is no User or Group of the
// organization (Okta group push racing a failed user assignment; Microsoft's collection, "Group
// patch add member" with "string id 1") succeeds for the known members; the unknown ones are
// skipped, counted in scimsync_scim_unknown_members_total{organization} and logged with the
// request id. Real HTTP, real Postgres; the log is the server's pino output.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startTestServer, type TestServer } from './helpers/server.js';
import { PATCH_OP_SCHEMA as PATCH, GROUP_SCHEMA as GROUP } from '../src/scim/schemas.js';

const GHOST = '6f1d6a4e-1c2b-4f7e-9a1d-000000000bad';
const OTHER_ORG_USER_NAME = 'elsewhere@other.example';

let s: TestServer;
let other: TestServer;
const lines: Record<string, unknown>[] = [];
const users: string[] = [];
let otherOrgUser: string;

beforeAll(async () => {
  const sink = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } });
  s = await startTestServer({ org: 'unknownmembers', log: pino({ level: 'info' }, sink) });
  for (let i = 0; i < 3; i++) users.push((await s.scim('/Users', { method: 'POST', body: { userName: `um${i}@example.com` } })).body.id);
  other = await startTestServer({ org: 'someone-else', db: s.db });
  otherOrgUser = (await other.scim('/Users', { method: 'POST', body: { userName: OTHER_ORG_USER_NAME } })).body.id;
});
afterAll(async () => {
  await other?.close();
  await s?.close();
});

const patch = (id: string, Operations: unknown[], headers?: Record<string, string>) =>
  s.scim(`/Groups/${id}`, { method: 'PATCH', body: { schemas: [PATCH], Operations }, headers });
const memberIds = async (id: string) => ((await s.scim(`/Groups/${id}`)).body.members ?? []).map((m: { value: string }) => m.value).sort();
const newGroup = async (displayName: string) => (await s.scim('/Groups', { method: 'POST', body: { schemas: [GROUP], displayName } })).body.id as string;

/** The counter's value for this test's organization, read from /metrics over HTTP. */
async function unknownCount(): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const m = /^scimsync_scim_unknown_members_total\{organization="unknownmembers"\} (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

describe('unknown group members are skipped, counted and logged', () => {
  it('Okta group push racing a failed user assignment: PATCH add with one unknown id adds the others', async () => {
    const g = await newGroup('Okta push');
    const before = await unknownCount();
    const res = await patch(g, [{ op: 'add', path: 'members', value: [{ value: users[0], display: 'um0' }, { value: GHOST, display: 'ghost' }, { value: users[1] }] }], { 'user-agent': 'Okta SCIM Client 1.0.0' });
    // A Group PATCH answers 204 whoever the client is: the member list is read back with GET.
    expect(res.status, res.text).toBe(204);
    expect(await memberIds(g)).toEqual([users[0], users[1]].sort());
    expect(await unknownCount()).toBe(before + 1);
    const log = lines.find((l) => l.msg === 'skipped group members that are not Users or Groups of this organization' && l.groupId === g);
    expect(log).toMatchObject({ level: 40, unknown: 1, ids: [GHOST], notUuids: 0 });
    expect(log?.reqId).toBe(res.headers.get('x-request-id'));
  });

  it('Microsoft collection "Group patch add member": bare-string ids that name nobody → 204, nothing added, no value logged', async () => {
    const g = await newGroup('Collection');
    const before = await unknownCount();
    const one = await patch(g, [{ op: 'Add', path: 'members', value: 'string id 1' }]);
    expect(one.status, one.text).toBe(204);
    const two = await patch(g, [{ op: 'Add', path: 'members', value: [{ value: 'string id 2' }, { value: 'someone@example.com' }] }]);
    expect(two.status).toBe(204);
    expect(await memberIds(g)).toEqual([]);
    expect(await unknownCount()).toBe(before + 3);
    // Values that are not ids are client text (possibly an email): counted, never logged.
    const text = JSON.stringify(lines);
    expect(text).not.toContain('someone@example.com');
    expect(text).not.toContain('string id');
  });

  it('a user of another organization is unknown here; a deleted user too', async () => {
    const g = await newGroup('Cross org');
    const gone = (await s.scim('/Users', { method: 'POST', body: { userName: 'gone@example.com' } })).body.id;
    expect((await s.scim(`/Users/${gone}`, { method: 'DELETE' })).status).toBe(204);
    const res = await patch(g, [{ op: 'add', path: 'members', value: [{ value: otherOrgUser }, { value: gone }, { value: users[2] }] }]);
    expect(res.status).toBe(204);
    expect(await memberIds(g)).toEqual([users[2]]);
    expect(JSON.stringify(lines)).not.toContain(OTHER_ORG_USER_NAME);
  });

  it('removes of unknown members stay accepted (filter and value list)', async () => {
    const g = await newGroup('Removals');
    await patch(g, [{ op: 'add', path: 'members', value: [{ value: users[0] }] }]);
    expect((await patch(g, [{ op: 'remove', path: `members[value eq "${GHOST}"]` }])).status).toBe(204);
    expect((await patch(g, [{ op: 'Remove', path: 'members', value: [{ value: GHOST }, { value: 'string id 1' }] }])).status).toBe(204);
    expect(await memberIds(g)).toEqual([users[0]]);
  });

  it('POST and PUT follow the same rule: known members kept, unknown skipped and counted', async () => {
    const before = await unknownCount();
    const post = await s.scim('/Groups', { method: 'POST', body: { schemas: [GROUP], displayName: 'Posted', members: [{ value: users[0] }, { value: GHOST }] } });
    expect(post.status, post.text).toBe(201);
    expect(post.body.members.map((m: { value: string }) => m.value)).toEqual([users[0]]);
    const put = await s.scim(`/Groups/${post.body.id}`, { method: 'PUT', body: { schemas: [GROUP], displayName: 'Posted', members: [{ value: users[1] }, { value: 'string id 9' }] } });
    expect(put.status, put.text).toBe(200);
    expect(await memberIds(post.body.id)).toEqual([users[1]]);
    expect(await unknownCount()).toBe(before + 2);
  });

  it('an unknown member does not block the rest of the request (rename + members in one PATCH)', async () => {
    const g = await newGroup('Before rename');
    const res = await patch(g, [
      { op: 'Replace', path: 'displayName', value: 'After rename' },
      { op: 'Add', path: 'members', value: [{ value: GHOST }, { value: users[2] }] },
    ]);
    expect(res.status).toBe(204);
    const after = await s.scim(`/Groups/${g}`);
    expect(after.body.displayName).toBe('After rename');
    expect(after.body.members.map((m: { value: string }) => m.value)).toEqual([users[2]]);
  });
});
