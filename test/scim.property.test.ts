// Property-based tests (fast-check) over real HTTP, the real app and Postgres (issue 10):
// 1. random sequences of SCIM writes (create/patch/put/delete of Users and Groups, member adds
//    and removes, deactivation and re-provisioning) checked step by step against a reference
//    model of the directory, with invariants: userName unique per organization
//    case-insensitively, no membership of a deleted resource, meta.version/ETag monotonic,
//    nothing visible across organizations;
// 2. hostile input at volume: malformed bodies, parameters and paths; every answer < 500.
// npm test runs a short version; FUZZ_RUNS=N runs N sequences and N×20 hostile requests
// (figures of the full run in docs/fuzz.md).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { danglingMembers } from './helpers/db.js';
import { startTestServer, type ScimResponse, type TestServer } from './helpers/server.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const FULL = process.env.FUZZ_RUNS !== undefined;
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const HOSTILE_RUNS = FULL ? RUNS * 20 : 300;

let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  a = await startTestServer({ org: 'alpha' });
  b = await startTestServer({ org: 'beta', db: a.db });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

// ---------- the reference model ----------

interface MUser {
  userName: string;
  active: boolean;
  version: number;
}
interface MGroup {
  displayName: string;
  members: Set<string>;
  version: number;
}
interface Model {
  users: Map<string, MUser>;
  groups: Map<string, MGroup>;
  /** Ids ever deleted: they must stay 404 and never appear as members. */
  deleted: Set<string>;
}

type Action =
  | { kind: 'createUser'; name: number; upper: boolean }
  | { kind: 'patchUser'; user: number; active?: boolean; rename?: number }
  | { kind: 'putUser'; user: number; name: number }
  | { kind: 'deleteUser'; user: number }
  | { kind: 'createGroup'; members: number[] }
  | { kind: 'addMembers'; group: number; members: number[] }
  | { kind: 'removeMember'; group: number; member: number }
  | { kind: 'putGroup'; group: number; members: number[] }
  | { kind: 'deleteGroup'; group: number };

const idx = fc.nat(20);
const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('createUser' as const), name: fc.nat(8), upper: fc.boolean() }), weight: 4 },
  fc.record({ kind: fc.constant('patchUser' as const), user: idx, active: fc.option(fc.boolean(), { nil: undefined }), rename: fc.option(fc.nat(8), { nil: undefined }) }),
  fc.record({ kind: fc.constant('putUser' as const), user: idx, name: fc.nat(8) }),
  fc.record({ kind: fc.constant('deleteUser' as const), user: idx }),
  { arbitrary: fc.record({ kind: fc.constant('createGroup' as const), members: fc.array(idx, { maxLength: 4 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('addMembers' as const), group: idx, members: fc.array(idx, { minLength: 1, maxLength: 4 }) }), weight: 3 },
  fc.record({ kind: fc.constant('removeMember' as const), group: idx, member: idx }),
  fc.record({ kind: fc.constant('putGroup' as const), group: idx, members: fc.array(idx, { maxLength: 4 }) }),
  fc.record({ kind: fc.constant('deleteGroup' as const), group: idx }),
);

const versionOf = (r: ScimResponse) => Number(/W\/"(\d+)"/.exec(r.headers.get('etag') ?? '')?.[1] ?? NaN);
const userName = (n: number, upper: boolean, run: number) => (upper ? `U${n}@EXAMPLE.COM` : `u${n}@example.com`).replace('@', `.r${run}@`);

/** Picks the i-th id of a list of ids in creation order (live and deleted: deleted ones must 404). */
const pick = (ids: string[], i: number) => (ids.length ? ids[i % ids.length] : undefined);

class Runner {
  readonly m: Model = { users: new Map(), groups: new Map(), deleted: new Set() };
  /** Every id created in this run, deleted ones included, in order. */
  readonly userIds: string[] = [];
  readonly groupIds: string[] = [];
  readonly steps: string[] = [];

  constructor(readonly s: TestServer, readonly run: number) {}

  private liveUserByName(name: string): [string, MUser] | undefined {
    return [...this.m.users].find(([, u]) => u.userName.toLowerCase() === name.toLowerCase());
  }

  private checkVersion(id: string, res: ScimResponse, prev: number | undefined, changed: boolean) {
    const v = versionOf(res);
    expect(Number.isFinite(v), `${id}: ETag ${res.headers.get('etag')}`).toBe(true);
    if (prev !== undefined) {
      if (changed) expect(v, `version of ${id} must grow`).toBeGreaterThan(prev);
      else expect(v, `version of ${id} must not go back`).toBeGreaterThanOrEqual(prev);
    }
    return v;
  }

  /** Member ids of a list of indexes: live users, deleted users and groups mixed. */
  private memberIds(list: number[]) {
    const all = [...this.userIds, ...this.groupIds];
    return [...new Set(list.map((i) => pick(all, i)).filter((x): x is string => !!x))];
  }

  private memberRefs(ids: string[]) {
    return ids.map((id) => ({ value: id, type: this.groupIds.includes(id) ? 'Group' : 'User' }));
  }

  private isLive = (id: string) => this.m.users.has(id) || this.m.groups.has(id);

  async step(a: Action): Promise<void> {
    this.steps.push(JSON.stringify(a));
    const s = this.s;
    switch (a.kind) {
      case 'createUser': {
        const name = userName(a.name, a.upper, this.run);
        const res = await s.scim('/Users', { method: 'POST', body: { schemas: [USER], userName: name } });
        const taken = this.liveUserByName(name);
        if (taken && taken[1].active) return void expect(res.status, res.text).toBe(409);
        expect(res.status, res.text).toBe(201);
        if (taken) {
          // Re-provisioning an inactive user: same id, active again, memberships kept.
          expect(res.body.id).toBe(taken[0]);
          const v = this.checkVersion(taken[0], res, taken[1].version, true);
          this.m.users.set(taken[0], { userName: name, active: true, version: v });
          return;
        }
        this.userIds.push(res.body.id);
        this.m.users.set(res.body.id, { userName: name, active: true, version: this.checkVersion(res.body.id, res, undefined, true) });
        return;
      }
      case 'patchUser': {
        const id = pick(this.userIds, a.user);
        if (!id) return;
        const ops: unknown[] = [];
        if (a.active !== undefined) ops.push({ op: 'replace', path: 'active', value: a.active });
        const rename = a.rename !== undefined ? userName(a.rename, false, this.run) : undefined;
        if (rename) ops.push({ op: 'replace', path: 'userName', value: rename });
        if (!ops.length) ops.push({ op: 'replace', path: 'displayName', value: `d${this.steps.length}` });
        const res = await s.scim(`/Users/${id}?attributes=userName`, { method: 'PATCH', body: { schemas: [PATCH], Operations: ops } });
        const cur = this.m.users.get(id);
        if (!cur) return void expect(res.status, res.text).toBe(404);
        const clash = rename && this.liveUserByName(rename);
        if (clash && clash[0] !== id) return void expect(res.status, res.text).toBe(409);
        expect(res.status, res.text).toBe(200);
        this.m.users.set(id, { userName: rename ?? cur.userName, active: a.active ?? cur.active, version: this.checkVersion(id, res, cur.version, false) });
        return;
      }
      case 'putUser': {
        const id = pick(this.userIds, a.user);
        if (!id) return;
        const name = userName(a.name, false, this.run);
        const res = await s.scim(`/Users/${id}`, { method: 'PUT', body: { schemas: [USER], userName: name, active: true } });
        const cur = this.m.users.get(id);
        if (!cur) return void expect(res.status, res.text).toBe(404);
        const clash = this.liveUserByName(name);
        if (clash && clash[0] !== id) return void expect(res.status, res.text).toBe(409);
        expect(res.status, res.text).toBe(200);
        this.m.users.set(id, { userName: name, active: true, version: this.checkVersion(id, res, cur.version, false) });
        return;
      }
      case 'deleteUser':
      case 'deleteGroup': {
        const ids = a.kind === 'deleteUser' ? this.userIds : this.groupIds;
        const id = pick(ids, a.kind === 'deleteUser' ? a.user : a.group);
        if (!id) return;
        const res = await s.scim(`/${a.kind === 'deleteUser' ? 'Users' : 'Groups'}/${id}`, { method: 'DELETE' });
        if (!this.isLive(id)) return void expect(res.status, res.text).toBe(404);
        expect(res.status, res.text).toBe(204);
        this.m.users.delete(id);
        this.m.groups.delete(id);
        this.m.deleted.add(id);
        for (const g of this.m.groups.values()) if (g.members.delete(id)) g.version = -1; // bumped, value unknown
        return;
      }
      case 'createGroup': {
        const ids = this.memberIds(a.members);
        const res = await s.scim('/Groups', { method: 'POST', body: { schemas: [GROUP], displayName: `g${this.groupIds.length}.r${this.run}`, members: this.memberRefs(ids) } });
        expect(res.status, res.text).toBe(201);
        this.groupIds.push(res.body.id);
        this.m.groups.set(res.body.id, { displayName: res.body.displayName, members: new Set(ids.filter(this.isLive)), version: this.checkVersion(res.body.id, res, undefined, true) });
        return;
      }
      case 'addMembers':
      case 'putGroup': {
        const id = pick(this.groupIds, a.group);
        if (!id) return;
        const ids = this.memberIds(a.members);
        const cur = this.m.groups.get(id);
        const res = a.kind === 'addMembers'
          ? await s.scim(`/Groups/${id}?attributes=displayName`, { method: 'PATCH', body: { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: this.memberRefs(ids) }] } })
          : await s.scim(`/Groups/${id}`, { method: 'PUT', body: { schemas: [GROUP], displayName: cur?.displayName ?? 'x', members: this.memberRefs(ids) } });
        if (!cur) return void expect(res.status, res.text).toBe(404);
        expect(res.status, res.text).toBe(200);
        const live = ids.filter(this.isLive);
        const next = a.kind === 'addMembers' ? new Set([...cur.members, ...live]) : new Set(live);
        const changed = next.size !== cur.members.size || [...next].some((x) => !cur.members.has(x));
        this.m.groups.set(id, { ...cur, members: next, version: this.checkVersion(id, res, cur.version < 0 ? undefined : cur.version, changed) });
        return;
      }
      case 'removeMember': {
        const id = pick(this.groupIds, a.group);
        const member = this.memberIds([a.member])[0];
        if (!id || !member) return;
        const res = await s.scim(`/Groups/${id}?attributes=displayName`, { method: 'PATCH', body: { schemas: [PATCH], Operations: [{ op: 'remove', path: `members[value eq "${member}"]` }] } });
        const cur = this.m.groups.get(id);
        if (!cur) return void expect(res.status, res.text).toBe(404);
        expect(res.status, res.text).toBe(200);
        const changed = cur.members.delete(member);
        cur.version = this.checkVersion(id, res, cur.version < 0 ? undefined : cur.version, changed);
        return;
      }
    }
  }

  /** The whole directory of this run as the server lists it, against the model. */
  async checkAgainstServer(): Promise<void> {
    const s = this.s;
    const users = await s.scim(`/Users?count=1000&filter=${encodeURIComponent(`userName co ".r${this.run}@"`)}`);
    expect(users.status).toBe(200);
    const listed = new Map<string, { userName: string; active: boolean }>(users.body.Resources.map((u: { id: string; userName: string; active: boolean }) => [u.id, u]));
    expect([...listed.keys()].sort()).toEqual([...this.m.users.keys()].sort());
    for (const [id, u] of this.m.users) expect({ id, userName: listed.get(id)!.userName, active: listed.get(id)!.active }).toEqual({ id, userName: u.userName, active: u.active });
    const lower = [...listed.values()].map((u) => u.userName.toLowerCase());
    expect(new Set(lower).size, 'userName unique case-insensitively').toBe(lower.length);
    for (const [id, g] of this.m.groups) {
      const res = await s.scim(`/Groups/${id}`);
      expect(res.status).toBe(200);
      expect((res.body.members ?? []).map((m: { value: string }) => m.value).sort(), `members of ${id}`).toEqual([...g.members].sort());
    }
    for (const id of this.m.deleted) {
      const res = await s.scim(`/${this.userIds.includes(id) ? 'Users' : 'Groups'}/${id}`);
      expect(res.status, `deleted ${id}`).toBe(404);
    }
  }
}

/** What the other organization sees of this run's ids: nothing. */
async function checkIsolation(r: Runner, other: TestServer) {
  for (const id of [...r.userIds.slice(0, 5), ...r.groupIds.slice(0, 5)]) {
    const kind = r.userIds.includes(id) ? 'Users' : 'Groups';
    expect((await other.scim(`/${kind}/${id}`)).status, `${kind}/${id} seen from ${other.org}`).toBe(404);
    expect((await other.scim(`/${kind}/${id}`, { method: 'DELETE' })).status).toBe(404);
  }
  const listed = await other.scim(`/Users?count=1000&filter=${encodeURIComponent(`userName co ".r${r.run}@"`)}`);
  expect(listed.body.totalResults).toBe(0);
  const groups = await other.scim('/Groups?count=1000&excludedAttributes=members');
  const theirs = new Set(groups.body.Resources.map((g: { id: string }) => g.id));
  expect(r.groupIds.filter((id) => theirs.has(id))).toEqual([]);
}

describe('random SCIM operation sequences against a reference model', () => {
  let run = 0;
  it(`holds the invariants over ${RUNS} sequences of up to 40 operations`, async () => {
    const tried = { sequences: 0, requests: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 5, maxLength: 40 }), async (actions) => {
        const r = new Runner(run % 2 ? b : a, run++);
        for (const act of actions) await r.step(act);
        tried.sequences++;
        tried.requests += r.steps.length;
        await r.checkAgainstServer();
        expect(await danglingMembers(a.pool)).toBe(0);
        await checkIsolation(r, r.s === a ? b : a);
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    if (FULL) console.log(`[fuzz] model sequences: ${tried.sequences}, write requests: ${tried.requests}, invariant violations: 0`);
  }, FULL ? 3_600_000 : 120_000);
});

// ---------- hostile input at volume ----------

const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ maxLength: 12 }), fc.constantFrom('', '\u0000', '\ud800', '2024-13-01T00:00:00Z', 'a'.repeat(5000), 'userName eq "x"', '[', '}'));
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  anyText,
  fc.constant({ toString: 'x', valueOf: 'y' }),
  fc.constant(JSON.parse(`${'['.repeat(200)}1${']'.repeat(200)}`)),
);
const attrName = fc.constantFrom('userName', 'displayName', 'active', 'emails', 'members', 'externalId', 'name', 'name.givenName', 'emails[type eq "work"].value', 'members[value eq "x"]', 'meta', 'id', 'schemas', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager', 'Operations', 'op', 'path', 'value', 'filter', 'count', 'startIndex', 'cursor', 'sortBy', 'sortOrder', 'attributes');
const hostileObject = fc.dictionary(fc.oneof(attrName, fc.string({ unit: 'binary', maxLength: 8 })), hostileValue, { maxKeys: 6 });
const patchBody = fc.record({
  schemas: fc.oneof(fc.constant([PATCH]), hostileValue),
  Operations: fc.oneof(fc.array(fc.record({ op: fc.oneof(fc.constantFrom('add', 'replace', 'remove', 'Add'), hostileValue), path: fc.oneof(attrName, hostileValue), value: hostileValue }, { requiredKeys: [] }), { maxLength: 5 }), hostileValue),
}, { requiredKeys: [] });
const paramValue = fc.oneof(anyText.map((t) => encodeURIComponent(t.replace(/[\ud800-\udfff]/g, ''))), fc.constantFrom('%ED%A0%80', '%00', '%', '%FF', '1e400', '-1', '99999999999999999999'));
const query = fc.array(fc.tuple(fc.constantFrom('filter', 'count', 'startIndex', 'cursor', 'sortBy', 'sortOrder', 'attributes', 'excludedAttributes', 'Count'), paramValue), { maxLength: 4 }).map((ps) => (ps.length ? `?${ps.map(([k, v]) => `${k}=${v}`).join('&')}` : ''));
const request = fc.oneof(
  fc.record({ method: fc.constantFrom('POST', 'PUT'), res: fc.constantFrom('Users', 'Groups'), target: fc.constantFrom('', 'existing'), body: fc.oneof(hostileObject, hostileValue), query: fc.constant('') }),
  fc.record({ method: fc.constant('PATCH'), res: fc.constantFrom('Users', 'Groups'), target: fc.constant('existing'), body: fc.oneof(patchBody, hostileValue), query: fc.constant('') }),
  fc.record({ method: fc.constant('GET'), res: fc.constantFrom('Users', 'Groups', 'Schemas', 'ResourceTypes'), target: fc.constantFrom('', 'existing', 'random'), body: fc.constant(undefined), query }),
  fc.record({ method: fc.constant('POST'), res: fc.constantFrom('Users/.search', 'Groups/.search', '.search'), target: fc.constant(''), body: fc.oneof(hostileObject, hostileValue), query: fc.constant('') }),
  fc.record({ method: fc.constantFrom('DELETE', 'GET'), res: fc.constantFrom('Users', 'Groups'), target: fc.constantFrom('random', 'existing'), body: fc.constant(undefined), query }),
);

describe('hostile input at volume', () => {
  it(`answers every one of ${HOSTILE_RUNS} malformed requests with a status below 500`, async () => {
    const user = (await a.scim('/Users', { method: 'POST', body: { schemas: [USER], userName: 'hostile@example.com' } })).body.id as string;
    const group = (await a.scim('/Groups', { method: 'POST', body: { schemas: [GROUP], displayName: 'hostile', members: [{ value: user }] } })).body.id as string;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, fc.string({ unit: 'binary', maxLength: 10 }), async (req, junk) => {
        const id = req.target === 'existing' ? (req.res === 'Groups' ? group : user) : req.target === 'random' ? encodeURIComponent(junk.replace(/[\ud800-\udfff]/g, '')) || 'x' : '';
        const path = `/${req.res}${id ? `/${id}` : ''}${req.query}`;
        const res = await a.scim(path, { method: req.method, body: req.body });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect(res.status, `${req.method} ${path} ${JSON.stringify(req.body)?.slice(0, 300)} → ${res.text.slice(0, 300)}`).toBeLessThan(500);
      }),
      { numRuns: HOSTILE_RUNS, endOnFailure: true },
    );
    expect(await danglingMembers(a.pool)).toBe(0);
    if (FULL) console.log(`[fuzz] hostile requests: ${HOSTILE_RUNS}, statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}, 5xx: 0`);
  }, FULL ? 3_600_000 : 120_000);
});
