// filterToSql and sortExpression against a real, migrated Postgres: every filter is run as
// SQL and, on the same rows in their JSON representation, through evaluateFilter; both
// must give the expected set (the two implementations promise the same semantics).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScimError } from '../src/scim/errors.js';
import { evaluateFilter, parseFilter } from '../src/scim/filter.js';
import { resolvePath } from '../src/scim/paths.js';
import { ENTERPRISE_USER_SCHEMA as ENT, GROUP_RESOURCE, type ResourceTypeDef, USER_RESOURCE } from '../src/scim/schemas.js';
import { filterToSql, GROUPS_SQL, sortExpression, type SqlTarget, USERS_SQL } from '../src/store/filterSql.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

type Json = Record<string, unknown>;

interface UserFixture {
  userName: string;
  externalId?: string;
  displayName?: string;
  active: boolean;
  created: string;
  lastModified?: string;
  version?: number;
  deleted?: boolean;
  extra?: Json;
}

const USERS: UserFixture[] = [
  {
    userName: 'alice@example.com', externalId: 'A-1', displayName: 'Alice Liddell', active: true, created: '2024-01-01T00:00:00Z',
    extra: {
      name: { givenName: 'Alice', familyName: 'Liddell' }, title: 'Engineer',
      emails: [{ value: 'alice@corp.com', type: 'work', primary: true }, { value: 'alice@home.org', type: 'home' }],
      [ENT]: { department: 'Sales', manager: { value: 'm-1' } },
    },
  },
  {
    userName: 'bob@example.com', externalId: 'B-1', displayName: 'Bob', active: false, created: '2024-02-01T00:00:00Z',
    lastModified: '2024-02-01T10:00:00.123456Z', version: 3,
    extra: {
      title: 'Manager', emails: [{ value: 'bob@corp.com', type: 'home' }, { value: 'bob@other.com', type: 'work' }],
      [ENT]: { department: 'Engineering' },
    },
  },
  {
    userName: 'carol@example.com', active: true, created: '2024-03-01T00:00:00Z',
    extra: { name: { familyName: 'Employee' }, title: '', [ENT]: { department: 'sales' } },
  },
  {
    userName: 'Dave@Example.COM', externalId: 'a-1', displayName: 'dave', active: true, created: '2024-04-01T00:00:00Z',
    lastModified: '2024-04-20T08:30:00Z',
    extra: { title: 'Manager', nickName: "O'Brien", emails: [{ value: 'dave@example.org', type: 'work' }] },
  },
  {
    userName: 'erin%@example.com', active: true, created: '2024-05-01T00:00:00Z',
    extra: { emails: [{ value: 'erin@corp.com' }], phoneNumbers: [{ value: '+1 555 0100', type: 'mobile' }] },
  },
  {
    userName: 'frank_x@example.com', active: true, created: '2024-06-01T00:00:00Z',
    extra: {
      emails: [{ value: 'frank@corp.com', type: 'work', primary: false }, { value: 'f2@corp.com', type: 'work', primary: true }],
      [ENT]: { employeeNumber: '42' },
    },
  },
  {
    userName: 'grace@example.com', active: true, created: '2024-06-15T00:00:00Z', deleted: true,
    extra: { emails: [{ value: 'grace@corp.com', type: 'work', primary: true }], [ENT]: { department: 'Sales' } },
  },
  { userName: 'heidi@example.com', displayName: '', active: true, created: '2024-07-01T00:00:00Z', extra: { emails: [], [ENT]: {} } },
  {
    userName: 'Judy@Example.com', active: false, created: '2024-08-01T00:00:00Z',
    extra: {
      name: { givenName: 'Judy', familyName: 'employee' }, emails: [{ value: 'judy@example.com', type: 'work' }],
      [ENT]: { department: 'Sales', employeeNumber: '7' },
    },
  },
];

const GROUPS = [
  { displayName: 'Admins', externalId: 'G-A', members: ['alice@example.com', 'bob@example.com'] },
  { displayName: 'Sales Team', externalId: 'G-S', members: ['alice@example.com', 'Judy@Example.com', 'group:Admins'] },
  { displayName: 'Empty', members: [] as string[] },
];

const ALL_LIVE = USERS.filter((u) => !u.deleted).map((u) => u.userName);
const except = (...names: string[]) => ALL_LIVE.filter((n) => !names.includes(n));

let db: TestDatabase;
let orgId: string;
const ids: Record<string, string> = {};
const userJson = new Map<string, Json>();
const groupJson = new Map<string, Json>();

const resourceOf = (u: UserFixture): Json => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ...(u.extra?.[ENT] ? [ENT] : [])],
  userName: u.userName,
  ...(u.externalId !== undefined && { externalId: u.externalId }),
  ...(u.displayName !== undefined && { displayName: u.displayName }),
  active: u.active,
  ...u.extra,
});

async function insertFixtures(): Promise<void> {
  const { rows } = await db.pool.query<{ id: string }>(`insert into organizations (slug) values ('t') returning id`);
  orgId = rows[0]!.id;
  for (const u of USERS) {
    const { rows: r } = await db.pool.query<{ id: string }>(
      `insert into scim_users (organization_id, user_name, external_id, display_name, active, resource, version,
                               created_at, last_modified, deleted_at)
       values ($1::uuid, $2::text, $3::text, $4::text, $5::boolean, $6::jsonb, $7::bigint, $8::timestamptz, $9::timestamptz,
               case when $10::boolean then now() end)
       returning id`,
      [orgId, u.userName, u.externalId ?? null, u.displayName ?? null, u.active, JSON.stringify(resourceOf(u)),
        u.version ?? 1, u.created, u.lastModified ?? u.created, u.deleted ?? false],
    );
    ids[u.userName] = r[0]!.id;
  }
  for (const g of GROUPS) {
    const { rows: r } = await db.pool.query<{ id: string }>(
      `insert into scim_groups (organization_id, display_name, external_id, resource) values ($1::uuid, $2::text, $3::text, $4::jsonb) returning id`,
      [orgId, g.displayName, g.externalId ?? null, JSON.stringify({ displayName: g.displayName, externalId: g.externalId })],
    );
    ids[g.displayName] = r[0]!.id;
  }
  for (const g of GROUPS) {
    for (const m of g.members) {
      const isGroup = m.startsWith('group:');
      await db.pool.query(
        `insert into scim_group_members (group_id, member_id, member_type, organization_id) values ($1::uuid, $2::uuid, $3::text, $4::uuid)`,
        [ids[g.displayName], ids[isGroup ? m.slice(6) : m], isGroup ? 'Group' : 'User', orgId],
      );
    }
  }
  buildJson();
}

/** The same rows as SCIM JSON (id, meta, groups, members included), for evaluateFilter. */
function buildJson(): void {
  for (const u of USERS) {
    const groups = GROUPS.filter((g) => g.members.includes(u.userName)).map((g) => ({ value: ids[g.displayName], display: g.displayName, type: 'direct' }));
    userJson.set(u.userName, {
      ...resourceOf(u),
      id: ids[u.userName],
      meta: { resourceType: 'User', created: u.created, lastModified: u.lastModified ?? u.created, version: `W/"${u.version ?? 1}"` },
      ...(groups.length && { groups }),
    });
  }
  for (const g of GROUPS) {
    const members = g.members.map((m) => {
      if (m.startsWith('group:')) return { value: ids[m.slice(6)], type: 'Group', display: m.slice(6) };
      const u = USERS.find((x) => x.userName === m)!;
      return { value: ids[m], type: 'User', display: u.displayName || u.userName };
    });
    groupJson.set(g.displayName, {
      id: ids[g.displayName], displayName: g.displayName, ...(g.externalId && { externalId: g.externalId }),
      meta: { resourceType: 'Group', created: '2024-01-01T00:00:00Z', lastModified: '2024-01-01T00:00:00Z', version: 'W/"1"' },
      ...(members.length && { members }),
    });
  }
}

/** "{alice@example.com}" in a filter stands for that user's (or group's) id. */
const withIds = (filter: string) => filter.replace(/\{([^}]+)\}/g, (_, k: string) => ids[k] ?? k);

async function matchingUsers(filter: string): Promise<string[]> {
  const params: unknown[] = [orgId];
  const where = filterToSql(parseFilter(withIds(filter), USER_RESOURCE), USERS_SQL, params);
  const { rows } = await db.pool.query<{ userName: string }>(
    `select u.user_name as "userName" from scim_users u
      where u.organization_id = $1::uuid and u.deleted_at is null and (${where}) order by u.created_at`,
    params,
  );
  return rows.map((r) => r.userName);
}

async function matchingGroups(filter: string): Promise<string[]> {
  const params: unknown[] = [orgId];
  const where = filterToSql(parseFilter(withIds(filter), GROUP_RESOURCE), GROUPS_SQL, params);
  const { rows } = await db.pool.query<{ displayName: string }>(
    `select g.display_name as "displayName" from scim_groups g where g.organization_id = $1::uuid and (${where}) order by g.created_at, g.display_name`,
    params,
  );
  return rows.map((r) => r.displayName);
}

function evaluated(filter: string, rt: ResourceTypeDef, resources: Map<string, Json>, live: string[]): string[] {
  const node = parseFilter(withIds(filter), rt);
  return live.filter((k) => evaluateFilter(node, resources.get(k)!));
}

beforeAll(async () => {
  db = await createTestDatabase();
  await insertFixtures();
});
afterAll(async () => {
  await db?.drop();
});

describe('filterToSql on scim_users', () => {
  const cases: [string, string[]][] = [
    ['userName eq "ALICE@EXAMPLE.COM"', ['alice@example.com']],
    ['USERNAME Eq "dave@example.com"', ['Dave@Example.COM']],
    ['userName eq "grace@example.com"', []], // tombstone
    ['userName co "%"', ['erin%@example.com']], // never a wildcard
    ['userName co "_"', ['frank_x@example.com']],
    ['userName sw "ERIN%"', ['erin%@example.com']],
    ['userName ew "%@example.com"', ['erin%@example.com']],
    ['userName ew "\\\\"', []],
    ['userName sw "j"', ['Judy@Example.com']],
    ['userName sw O', []],
    ['userName gt "heidi@example.com"', ['Judy@Example.com']],
    ['userName le "bob@example.com"', ['alice@example.com', 'bob@example.com']],
    ['userName ne "alice@example.com"', except('alice@example.com')],
    ['userName eq "zz\'; drop table scim_users; --"', []],
    ['urn:ietf:params:scim:schemas:core:2.0:User:userName sw "A"', ['alice@example.com']],
    ['externalId eq "A-1"', ['alice@example.com']], // caseExact
    ['externalId eq "a-1"', ['Dave@Example.COM']],
    ['externalId pr', ['alice@example.com', 'bob@example.com', 'Dave@Example.COM']],
    ['externalId ne "A-1"', except('alice@example.com')], // absent counts as "not equal"
    ['displayName eq "ALICE LIDDELL"', ['alice@example.com']],
    ['displayName pr', ['alice@example.com', 'bob@example.com', 'Dave@Example.COM']], // "" is not present
    ['displayName eq null', except('alice@example.com', 'bob@example.com', 'Dave@Example.COM')],
    ['displayName ne "bob"', except('bob@example.com')],
    ['not (displayName eq "bob")', except('bob@example.com')],
    ['active eq true', except('bob@example.com', 'Judy@Example.com')],
    ['active eq false', ['bob@example.com', 'Judy@Example.com']],
    ['active eq "False"', ['bob@example.com', 'Judy@Example.com']],
    ['not (active eq true)', ['bob@example.com', 'Judy@Example.com']],
    ['active ne true', ['bob@example.com', 'Judy@Example.com']],
    ['not (not (active eq false))', ['bob@example.com', 'Judy@Example.com']],
    ['emails[type eq "work" and value ew "@corp.com"]', ['alice@example.com', 'frank_x@example.com']],
    ['emails.type eq "work" and emails.value ew "@corp.com"', ['alice@example.com', 'bob@example.com', 'frank_x@example.com']],
    ['emails[type eq "work" and primary eq true]', ['alice@example.com', 'frank_x@example.com']],
    ['emails[primary eq false]', ['frank_x@example.com']],
    // Entra's lookup when a tenant matches on work email (read as emails[type eq "work" and value eq …]).
    ['emails[type eq "work"].value eq "BOB@other.com"', ['bob@example.com']],
    ['emails[type eq "work"].value eq "bob@corp.com"', []], // bob's corp address is his home one
    ['emails[type eq "work"].value ew "@corp.com"', ['alice@example.com', 'frank_x@example.com']],
    ['emails[type eq "work"].primary eq "True"', ['alice@example.com', 'frank_x@example.com']],
    ['phoneNumbers[type eq "mobile"].value pr', ['erin%@example.com']],
    ['name[familyName eq "employee"].givenName eq "judy"', ['Judy@Example.com']],
    ['emails[primary ne true]', ['alice@example.com', 'bob@example.com', 'Dave@Example.COM', 'erin%@example.com', 'frank_x@example.com', 'Judy@Example.com']],
    ['emails[not (type eq "work")]', ['alice@example.com', 'bob@example.com', 'erin%@example.com']],
    ['emails.type ne "work"', ['carol@example.com', 'erin%@example.com', 'heidi@example.com']],
    ['emails pr', except('carol@example.com', 'heidi@example.com')], // [] is not present
    ['not (emails pr)', ['carol@example.com', 'heidi@example.com']],
    ['emails.type pr', except('carol@example.com', 'erin%@example.com', 'heidi@example.com')],
    ['emails co "CORP"', ['alice@example.com', 'bob@example.com', 'erin%@example.com', 'frank_x@example.com']],
    ['emails.value co "%"', []],
    ['phoneNumbers[type eq "mobile"]', ['erin%@example.com']],
    ['name.familyName eq "employee"', ['carol@example.com', 'Judy@Example.com']],
    ['name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)', ['Judy@Example.com']],
    ['name pr', ['alice@example.com', 'carol@example.com', 'Judy@Example.com']],
    ['name[givenName pr and familyName sw "l"]', ['alice@example.com']],
    ['title pr', ['alice@example.com', 'bob@example.com', 'Dave@Example.COM']], // "" is not present
    ['title ne "Manager"', except('bob@example.com', 'Dave@Example.COM')],
    ['nickName eq "o\'brien"', ['Dave@Example.COM']],
    [`${ENT}:department eq "Sales"`, ['alice@example.com', 'carol@example.com', 'Judy@Example.com']],
    [`${ENT}:department ne "Sales"`, except('alice@example.com', 'carol@example.com', 'Judy@Example.com')],
    [`${ENT}:employeeNumber pr`, ['frank_x@example.com', 'Judy@Example.com']],
    [`${ENT}:employeeNumber gt "40"`, ['frank_x@example.com', 'Judy@Example.com']], // strings: "7" > "40"
    [`${ENT}:manager.value eq "m-1"`, ['alice@example.com']],
    [`${ENT}:manager eq "m-1"`, ['alice@example.com']],
    // Entra's older job joins extension attributes with a dot (Microsoft, "Known issues … SCIM 2.0 protocol compliance").
    [`${ENT}.manager.value eq "m-1"`, ['alice@example.com']],
    [`${ENT}.department eq "engineering"`, ['bob@example.com']],
    ['meta.lastModified gt "2024-03-15T00:00:00Z"', ['Dave@Example.COM', 'erin%@example.com', 'frank_x@example.com', 'heidi@example.com', 'Judy@Example.com']],
    ['meta.lastModified gt "2024-02-01T10:00:00.123456Z"', except('alice@example.com', 'bob@example.com')],
    ['meta.lastModified ge "2024-02-01T10:00:00.123456Z"', except('alice@example.com')],
    ['meta.lastModified eq "2024-02-01T12:00:00.123456+02:00"', ['bob@example.com']],
    ['meta.created lt 2024-02-01', ['alice@example.com']],
    ['meta.created le "2024-02-01"', ['alice@example.com', 'bob@example.com']],
    ['meta.Created gt 2015-10-10T14:38:21.8617979-07:00', ALL_LIVE],
    ['meta.resourceType eq "User"', ALL_LIVE],
    ['meta.resourceType eq "Group"', []],
    ['meta.version eq "W/\\"3\\""', ['bob@example.com']],
    ['id eq "not-a-uuid"', []],
    ['id ne "not-a-uuid"', ALL_LIVE],
    ['id eq "{alice@example.com}"', ['alice@example.com']],
    ['id eq "{grace@example.com}"', []],
    ['groups.value eq "{Admins}"', ['alice@example.com', 'bob@example.com']],
    ['groups eq "{Sales Team}"', ['alice@example.com', 'Judy@Example.com']],
    ['groups.value eq "not-a-uuid"', []],
    ['groups[display eq "admins"]', ['alice@example.com', 'bob@example.com']],
    ['groups.display sw "sales"', ['alice@example.com', 'Judy@Example.com']],
    ['groups pr', ['alice@example.com', 'bob@example.com', 'Judy@Example.com']],
    ['groups.value ne "{Admins}"', except('alice@example.com', 'bob@example.com')],
    ['userName eq "alice@example.com" or userName eq "bob@example.com" and active eq true', ['alice@example.com']],
    ['(userName eq "alice@example.com" or userName eq "bob@example.com") and active eq false', ['bob@example.com']],
    ['not (emails[type eq "work"] or groups pr) and active eq true', ['carol@example.com', 'erin%@example.com', 'heidi@example.com']],
  ];
  it.each(cases)('%s', async (filter, expected) => {
    expect(await matchingUsers(filter)).toEqual(expected);
    expect(evaluated(filter, USER_RESOURCE, userJson, ALL_LIVE)).toEqual(expected);
  });

  it('never interpolates values', () => {
    const params: unknown[] = [];
    const sql = filterToSql(parseFilter(`userName eq "x'y" and ${ENT}:department co "Sales"`, USER_RESOURCE), USERS_SQL, params);
    expect(sql).toBe(
      `(lower(u.user_name) = lower($1::text) and strpos(lower(u.resource -> 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User' ->> 'department'), lower($2::text)) > 0)`,
    );
    expect(params).toEqual(["x'y", 'Sales']);
  });

  it.each(['meta.location pr', 'groups.$ref eq "x"', 'meta.location eq "https://x"'])('rejects %s as unsupported', (filter) => {
    const err = (() => {
      try {
        filterToSql(parseFilter(filter, USER_RESOURCE), USERS_SQL, []);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ScimError);
    expect(err).toMatchObject({ status: 400, scimType: 'invalidFilter', detail: expect.stringMatching(/not supported/) });
  });
});

describe('filterToSql on scim_groups', () => {
  const ALL = ['Admins', 'Empty', 'Sales Team'];
  const cases: [string, string[]][] = [
    ['displayName eq "ADMINS"', ['Admins']],
    ['displayName sw "s"', ['Sales Team']],
    ['displayName co " "', ['Sales Team']],
    ['externalId eq "G-A"', ['Admins']],
    ['externalId eq "g-a"', []],
    ['members.value eq "{alice@example.com}"', ['Admins', 'Sales Team']],
    ['members eq "{Judy@Example.com}"', ['Sales Team']],
    ['members[value eq "{bob@example.com}" and type eq "user"]', ['Admins']],
    ['members[type eq "Group"]', ['Sales Team']],
    ['members[type eq "User"].value eq "{Judy@Example.com}"', ['Sales Team']],
    ['members[type eq "Group"].value eq "{alice@example.com}"', []],
    ['members[value eq "{Admins}"]', ['Sales Team']],
    ['members.display eq "alice liddell"', ['Admins', 'Sales Team']],
    ['members.display eq "judy@example.com"', ['Sales Team']],
    ['members.display eq "Admins"', ['Sales Team']],
    ['members.value eq "nope"', []],
    ['members pr', ['Admins', 'Sales Team']],
    ['not (members pr)', ['Empty']],
    ['members.value ne "{bob@example.com}"', ['Empty', 'Sales Team']],
    ['meta.resourceType eq "Group"', ALL],
    ['id eq "{Admins}"', ['Admins']],
    ['displayName eq "Admins" or members.type eq "Group"', ['Admins', 'Sales Team']],
  ];
  it.each(cases)('%s', async (filter, expected) => {
    const got = await matchingGroups(filter);
    expect([...got].sort()).toEqual(expected);
    expect(evaluated(filter, GROUP_RESOURCE, groupJson, ALL).sort()).toEqual(expected);
  });
});

describe('index use', () => {
  async function indexesUsed(from: string, filter: string, rt: ResourceTypeDef, target: SqlTarget, live: string): Promise<string[]> {
    const params: unknown[] = [orgId];
    const where = filterToSql(parseFilter(withIds(filter), rt), target, params);
    const client = await db.pool.connect();
    try {
      // 5,000 more rows in the organization, analyzed, and no seq scans: on a handful of rows every
      // plan costs the same and the planner may pick any index. All rolled back afterwards.
      await client.query('begin');
      await client.query(
        `insert into scim_users (organization_id, user_name, external_id, resource)
         select $1::uuid, 'filler' || i || '@example.com', 'F-' || i, '{}'::jsonb from generate_series(1, 5000) i`,
        [orgId],
      );
      await client.query(
        `insert into scim_groups (organization_id, display_name) select $1::uuid, 'Filler ' || i from generate_series(1, 5000) i`,
        [orgId],
      );
      await client.query('analyze scim_users');
      await client.query('analyze scim_groups');
      await client.query('set local enable_seqscan = off');
      const { rows } = await client.query(
        `explain (format json) select ${target.alias}.id from ${from} where ${target.alias}.organization_id = $1::uuid and ${live} and (${where})`,
        params,
      );
      const names: string[] = [];
      const walk = (n: Json) => {
        if (typeof n['Index Name'] === 'string') names.push(n['Index Name']);
        for (const child of (n.Plans as Json[] | undefined) ?? []) walk(child);
      };
      walk((rows[0]['QUERY PLAN'] as Json[])[0]!.Plan as Json);
      return names;
    } finally {
      await client.query('rollback');
      client.release();
    }
  }

  it.each([
    ['scim_users u', 'userName eq "Alice@Example.com"', USER_RESOURCE, USERS_SQL, 'u.deleted_at is null', 'scim_users_user_name_idx'],
    ['scim_users u', 'externalId eq "A-1"', USER_RESOURCE, USERS_SQL, 'u.deleted_at is null', 'scim_users_external_id_idx'],
    ['scim_groups g', 'displayName eq "admins"', GROUP_RESOURCE, GROUPS_SQL, 'true', 'scim_groups_display_name_idx'],
    ['scim_users u', 'id eq "{alice@example.com}"', USER_RESOURCE, USERS_SQL, 'u.deleted_at is null', 'scim_users_pkey'],
    ['scim_groups g', 'members[value eq "{alice@example.com}"]', GROUP_RESOURCE, GROUPS_SQL, 'true', 'scim_group_members_member_idx'],
  ] as const)('%s where %s uses its index', async (from, filter, rt, target, live, index) => {
    const used = await indexesUsed(from, filter, rt, target, live);
    expect(used).toContain(index);
  });
});

describe('sortExpression', () => {
  async function sortedUsers(attr: string, dir: 'asc' | 'desc' = 'asc'): Promise<string[]> {
    const path = resolvePath(USER_RESOURCE, attr)!;
    const { rows } = await db.pool.query<{ userName: string }>(
      `select u.user_name as "userName" from scim_users u where u.organization_id = $1::uuid and u.deleted_at is null
        order by ${sortExpression(path, USERS_SQL)} ${dir} nulls last, lower(u.user_name)`,
      [orgId],
    );
    return rows.map((r) => r.userName);
  }

  it.each([
    ['userName', ['alice@example.com', 'bob@example.com', 'carol@example.com', 'Dave@Example.COM', 'erin%@example.com', 'frank_x@example.com', 'heidi@example.com', 'Judy@Example.com']],
    ['meta.lastModified', ALL_LIVE],
    // primary email, else the first one; users without emails last
    ['emails', ['alice@example.com', 'bob@example.com', 'Dave@Example.COM', 'erin%@example.com', 'frank_x@example.com', 'Judy@Example.com', 'carol@example.com', 'heidi@example.com']],
    [`${ENT}:department`, ['bob@example.com', 'alice@example.com', 'carol@example.com', 'Judy@Example.com', 'Dave@Example.COM', 'erin%@example.com', 'frank_x@example.com', 'heidi@example.com']],
    ['groups.display', ['alice@example.com', 'bob@example.com', 'Judy@Example.com', 'carol@example.com', 'Dave@Example.COM', 'erin%@example.com', 'frank_x@example.com', 'heidi@example.com']],
    ['active', ['bob@example.com', 'Judy@Example.com', 'alice@example.com', 'carol@example.com', 'Dave@Example.COM', 'erin%@example.com', 'frank_x@example.com', 'heidi@example.com']],
  ])('users by %s', async (attr, expected) => {
    expect(await sortedUsers(attr)).toEqual(expected);
  });

  it('sorts descending with missing values last', async () => {
    expect(await sortedUsers('name.familyName', 'desc')).toEqual([
      'alice@example.com', 'carol@example.com', 'Judy@Example.com', 'bob@example.com', 'Dave@Example.COM', 'erin%@example.com', 'frank_x@example.com', 'heidi@example.com',
    ]);
  });

  it('sorts groups by displayName, case-insensitively', async () => {
    const { rows } = await db.pool.query<{ displayName: string }>(
      `select g.display_name as "displayName" from scim_groups g where g.organization_id = $1::uuid
        order by ${sortExpression(resolvePath(GROUP_RESOURCE, 'displayname')!, GROUPS_SQL)} desc nulls last`,
      [orgId],
    );
    expect(rows.map((r) => r.displayName)).toEqual(['Sales Team', 'Empty', 'Admins']);
  });

  it.each(['name', 'meta', `${ENT}:manager`, 'addresses'])('rejects sortBy=%s (a complex attribute) as invalidValue', (attr) => {
    expect(() => sortExpression(resolvePath(USER_RESOURCE, attr)!, USERS_SQL)).toThrow(
      expect.objectContaining({ status: 400, scimType: 'invalidValue' }),
    );
  });
});
