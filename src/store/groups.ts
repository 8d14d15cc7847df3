// SCIM groups and their members. Membership is a table: a PATCH touches only the member
// rows it names, and reading a group never loads members unless they are asked for, so a
// group of 100,000 members costs what the request needs. The group row is locked for every
// write, so concurrent PATCHes on one group serialise and never lose members.
import type { Pool, PoolClient, Queryable } from './pool.js';
import { SQLSTATE, sqlState, withTransaction } from './pool.js';
import { InvalidMemberError, NotFoundError, VersionMismatchError } from './errors.js';
import { markForReconcile } from './reconcileQueue.js';
import { listRows, type ListPage, type ListQuery } from './list.js';
import { GROUPS_SQL } from './filterSql.js';

export interface GroupRow {
  id: string;
  displayName: string;
  resource: Record<string, unknown>;
  version: string;
  created: string;
  lastModified: string;
  createdAtKey: string;
}

export interface MemberRef {
  value: string;
  type?: 'User' | 'Group';
}

export interface MemberChanges {
  replaceAll?: MemberRef[];
  removeAll?: boolean;
  add: MemberRef[];
  remove: string[];
}

export interface MemberOut {
  value: string;
  display: string | null;
  type: 'User' | 'Group';
}

const SELECT = `g.id, g.display_name as "displayName", g.resource, g.version::text as version,
  to_json(g.created_at)#>>'{}' as created, to_json(g.last_modified)#>>'{}' as "lastModified",
  g.created_at::text as "createdAtKey"`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function columns(resource: Record<string, unknown>) {
  return {
    displayName: String(resource.displayName),
    externalId: typeof resource.externalId === 'string' ? resource.externalId : null,
  };
}

export async function getGroup(db: Queryable, organizationId: string, id: string, forUpdate = false): Promise<GroupRow> {
  if (!UUID.test(id)) throw new NotFoundError('Group', id);
  const { rows } = await db.query<GroupRow>(
    `select ${SELECT} from scim_groups g where g.organization_id = $1::uuid and g.id = $2::uuid${forUpdate ? ' for update' : ''}`,
    [organizationId, id],
  );
  if (!rows[0]) throw new NotFoundError('Group', id);
  return rows[0];
}

/** Resolves member ids to their type; unknown ids (not a live User or Group of the org) fail. */
async function resolveMembers(client: PoolClient, organizationId: string, refs: MemberRef[]): Promise<{ ids: string[]; types: string[] }> {
  const ids = [...new Set(refs.map((r) => r.value))];
  const bad = ids.filter((id) => !UUID.test(id));
  if (bad.length) throw new InvalidMemberError(bad);
  const { rows } = await client.query<{ id: string; type: string | null }>(
    `select w.id::text as id,
            case when u.id is not null then 'User' when g.id is not null then 'Group' end as type
       from unnest($2::uuid[]) as w(id)
       left join scim_users u on u.id = w.id and u.organization_id = $1::uuid and u.deleted_at is null
       left join scim_groups g on g.id = w.id and g.organization_id = $1::uuid`,
    [organizationId, ids],
  );
  const missing = rows.filter((r) => !r.type).map((r) => r.id);
  if (missing.length) throw new InvalidMemberError(missing);
  return { ids: rows.map((r) => r.id), types: rows.map((r) => r.type!) };
}

interface Touched {
  users: string[];
  groups: boolean;
}

async function insertMembers(client: PoolClient, organizationId: string, groupId: string, refs: MemberRef[], touched: Touched) {
  if (!refs.length) return;
  const { ids, types } = await resolveMembers(client, organizationId, refs);
  const { rows } = await client.query<{ id: string; type: string }>(
    `insert into scim_group_members (group_id, member_id, member_type, organization_id)
     select $1::uuid, m.id, m.type, $2::uuid from unnest($3::uuid[], $4::text[]) as m(id, type)
     on conflict do nothing returning member_id as id, member_type as type`,
    [groupId, organizationId, ids, types],
  );
  noteTouched(rows, touched);
}

function noteTouched(rows: { id: string; type: string }[], touched: Touched) {
  for (const r of rows) {
    if (r.type === 'User') touched.users.push(r.id);
    else touched.groups = true;
  }
}

/** Applies member changes: removeAll/replaceAll first, then removals, then additions. */
async function applyMemberChanges(client: PoolClient, organizationId: string, groupId: string, ch: MemberChanges): Promise<Touched> {
  const touched: Touched = { users: [], groups: false };
  const del = async (extra: string, params: unknown[]) => {
    const { rows } = await client.query<{ id: string; type: string }>(
      `delete from scim_group_members where group_id = $1::uuid ${extra} returning member_id as id, member_type as type`,
      [groupId, ...params],
    );
    noteTouched(rows, touched);
  };
  if (ch.removeAll) await del('', []);
  if (ch.replaceAll) {
    const keep = ch.replaceAll.map((m) => m.value).filter((v) => UUID.test(v));
    await del('and not (member_id = any($2::uuid[]))', [keep]);
    await insertMembers(client, organizationId, groupId, ch.replaceAll, touched);
  }
  const remove = ch.remove.filter((v) => UUID.test(v));
  if (remove.length) await del('and member_id = any($2::uuid[])', [remove]);
  await insertMembers(client, organizationId, groupId, ch.add, touched);
  return touched;
}

async function markTouched(client: PoolClient, organizationId: string, touched: Touched, wholeOrg: boolean) {
  // A renamed group can change every member's role mapping, and nested-group changes reach
  // users we do not enumerate here: both reconcile the whole organization.
  if (wholeOrg || touched.groups) await markForReconcile(client, organizationId);
  else await markForReconcile(client, organizationId, touched.users);
}

export async function createGroup(pool: Pool, organizationId: string, resource: Record<string, unknown>, members: MemberRef[]): Promise<GroupRow> {
  const c = columns(resource);
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<GroupRow>(
      `insert into scim_groups as g (organization_id, display_name, external_id, resource)
       values ($1::uuid, $2::text, $3::text, $4::jsonb) returning ${SELECT}`,
      [organizationId, c.displayName, c.externalId, JSON.stringify(resource)],
    );
    const row = rows[0]!;
    const touched: Touched = { users: [], groups: false };
    await insertMembers(client, organizationId, row.id, members, touched);
    await markTouched(client, organizationId, touched, false);
    return row;
  });
}

export interface GroupChange {
  /** The new stored resource, or undefined when attributes are unchanged. */
  resource?: Record<string, unknown>;
  members?: MemberChanges;
}

const isRename = (ch: GroupChange, current: GroupRow) =>
  ch.resource !== undefined && JSON.stringify(ch.resource) !== JSON.stringify(current.resource);

/** Changes that must be computed from a locked, current row (see updateGroup). */
const needsLock = (ch: GroupChange, current: GroupRow) =>
  isRename(ch, current) || Boolean(ch.members?.replaceAll || ch.members?.removeAll);

/**
 * PUT and PATCH: `change` sees the current row and says what to write.
 *
 * Adding or removing named members — what IdPs send for every membership change — does not
 * lock the group until its last statement: member rows are independent, and the version
 * bump at the end serialises only the commit. Benchmark scenario 3 (16 concurrent member
 * PATCHes on one group) ran one at a time while the lock was taken first. Renames, whole
 * member-list replacements and If-Match are computed under the row lock from the start.
 */
export async function updateGroup(
  pool: Pool,
  organizationId: string,
  id: string,
  ifMatch: string[] | undefined,
  change: (current: GroupRow) => GroupChange,
): Promise<GroupRow> {
  return retryOnDeadlock(() =>
    withTransaction(pool, async (client) => {
      let locked = ifMatch !== undefined;
      let current = await getGroup(client, organizationId, id, locked);
      if (ifMatch !== undefined && !ifMatch.includes(current.version)) throw new VersionMismatchError(current.version);
      let ch = change(current);
      if (!locked && needsLock(ch, current)) {
        locked = true;
        current = await getGroup(client, organizationId, id, true);
        ch = change(current);
      }
      const renamed = isRename(ch, current);
      const touched = ch.members ? await applyMemberChanges(client, organizationId, id, ch.members) : { users: [], groups: false };
      if (!renamed && !touched.users.length && !touched.groups) return current;
      await markTouched(client, organizationId, touched, renamed);
      if (!renamed) {
        // Members only: bump the version, leave attributes as they are now (not as read).
        const { rows } = await client.query<GroupRow>(
          `update scim_groups g set version = g.version + 1, last_modified = clock_timestamp() where g.id = $1::uuid returning ${SELECT}`,
          [id],
        );
        if (!rows[0]) throw new NotFoundError('Group', id); // deleted meanwhile
        return rows[0];
      }
      const c = columns(ch.resource!);
      const { rows } = await client.query<GroupRow>(
        `update scim_groups g set display_name = $2::text, external_id = $3::text, resource = $4::jsonb,
                version = g.version + 1, last_modified = clock_timestamp()
          where g.id = $1::uuid returning ${SELECT}`,
        [id, c.displayName, c.externalId, JSON.stringify(ch.resource)],
      );
      return rows[0]!;
    }),
  );
}

/**
 * Runs a transaction again when Postgres aborted it as a deadlock victim: a member PATCH
 * (member rows, then the group row) can meet a rename or a user deletion that takes them in
 * the other order. The retried transaction re-reads everything.
 */
async function retryOnDeadlock<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const code = sqlState(err);
      if (i >= attempts || (code !== SQLSTATE.deadlockDetected && code !== SQLSTATE.serializationFailure)) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 10 * i));
    }
  }
}

export async function deleteGroup(pool: Pool, organizationId: string, id: string, ifMatch?: string[]): Promise<void> {
  await withTransaction(pool, async (client) => {
    const current = await getGroup(client, organizationId, id, true);
    if (ifMatch !== undefined && !ifMatch.includes(current.version)) throw new VersionMismatchError(current.version);
    const touched = await applyMemberChanges(client, organizationId, id, { removeAll: true, add: [], remove: [] });
    // The group may itself be a member of other groups: those change too (version, lastModified).
    await client.query(
      `with gone as (delete from scim_group_members where member_id = $1::uuid returning group_id)
       update scim_groups g set version = g.version + 1, last_modified = clock_timestamp()
        where g.id in (select group_id from gone)`,
      [id],
    );
    await client.query('delete from scim_groups where id = $1::uuid', [id]);
    await markTouched(client, organizationId, touched, false);
  });
}

export async function listGroups(db: Queryable, organizationId: string, q: ListQuery): Promise<ListPage<GroupRow>> {
  return listRows<GroupRow>(db, { target: GROUPS_SQL, from: 'scim_groups g', live: 'true', select: SELECT }, organizationId, q);
}

/** Members of a page of groups, with display names, in one query. */
export async function membersOfGroups(db: Queryable, groupIds: string[]): Promise<Map<string, MemberOut[]>> {
  const out = new Map<string, MemberOut[]>(groupIds.map((id) => [id, []]));
  if (!groupIds.length) return out;
  const { rows } = await db.query<MemberOut & { groupId: string }>(
    `select m.group_id as "groupId", m.member_id::text as value, m.member_type as type,
            coalesce(u.display_name, u.user_name, g2.display_name) as display
       from scim_group_members m
       left join scim_users u on m.member_type = 'User' and u.id = m.member_id
       left join scim_groups g2 on m.member_type = 'Group' and g2.id = m.member_id
      where m.group_id = any($1::uuid[])
      order by m.group_id, m.added_at, m.member_id`,
    [groupIds],
  );
  for (const { groupId, ...m } of rows) out.get(groupId)!.push(m);
  return out;
}
