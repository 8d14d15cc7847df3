// SCIM groups and their members. Membership is a table: a PATCH touches only the member
// rows it names, and reading a group never loads members unless they are asked for, so a
// group of 100,000 members costs what the request needs. The group row is locked for every
// write, so concurrent PATCHes on one group serialise and never lose members; writes to one
// group in flight together share a transaction (groupWriter.ts).
import type { Pool, PoolClient, Queryable } from './pool.js';
import { prepared, withTransaction } from './pool.js';
import { retryOnDeadlock, writeBatched } from './groupWriter.js';
import { lockGroupsContaining } from './lockOrder.js';
import { auditEntryCte, recordWrite, type AuditContext, type AuditOperation } from './audit.js';
import { NotFoundError, VersionMismatchError } from './errors.js';
import { MAX_USER_ITEMS, markForReconcile, markStatement, notifyAfter } from './reconcileQueue.js';
import { jsonbWeight, listRows, type ListPage, type ListQuery, type RowKey } from './list.js';
import { GROUPS_SQL } from './filterSql.js';
import { withWake } from './wakeups.js';

export interface GroupRow {
  id: string;
  /**
   * Set by writes: member values this request named for adding that are no User or Group of
   * the organization and were skipped (the caller counts and logs them).
   */
  unknownMembers?: string[];
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
  const { rows } = await db.query<GroupRow>(prepared(
    `select ${SELECT} from scim_groups g where g.organization_id = $1::uuid and g.id = $2::uuid${forUpdate ? ' for update' : ''}`,
    [organizationId, id],
  ));
  if (!rows[0]) throw new NotFoundError('Group', id);
  return rows[0];
}

interface Touched {
  users: string[];
  groups: boolean;
  /** Member values named for adding that are no User or Group of the organization (skipped). */
  unknown: string[];
}

const noneTouched = (): Touched => ({ users: [], groups: false, unknown: [] });

/**
 * The CTEs `lu`, `lg`, `w` and `ins` (comma-separated, for a `with` clause) that add the ids of
 * the uuid[] parameter `idsParam` to the group $1 of the organization $2: `w` resolves each id
 * to 'User', 'Group' or null (no live member of the organization), `ins` inserts the resolved
 * ones and returns those it added (`id`, `type`). Nothing is locked or written while the
 * boolean SQL `gate` is false (the lone write's `exists (select 1 from cur)`).
 *
 * The members' rows are locked FOR KEY SHARE (what a foreign key check takes): it conflicts
 * with the FOR UPDATE a deletion takes on the member first (getUser/getGroup), not with a
 * user's ordinary PATCH. A deletion racing this add either commits first, and the locked
 * re-check skips the member, or waits for this commit and then deletes the membership it can
 * now see. Without the lock 90 of 100 such races left a deleted user as a member (issue 10).
 * Deadlocks with a deletion are retried on both sides.
 */
function memberAddCtes(idsParam: string, gate: string): string {
  return `lu as (select u.id from scim_users u
                 where u.id = any(${idsParam}::uuid[]) and u.organization_id = $2::uuid and u.deleted_at is null
                   and ${gate}
                 order by u.id for key share),
     lg as (select g.id from scim_groups g
             where g.id = any(${idsParam}::uuid[]) and g.organization_id = $2::uuid and ${gate}
             order by g.id for key share),
     w as (select w.id, case when u.id is not null then 'User' when g.id is not null then 'Group' end as type
             from unnest(${idsParam}::uuid[]) as w(id)
             left join lu u on u.id = w.id
             left join lg g on g.id = w.id),
     ins as (insert into scim_group_members (group_id, member_id, member_type, organization_id)
             select $1::uuid, w.id, w.type, $2::uuid from w where w.type is not null and ${gate}
             on conflict do nothing returning member_id as id, member_type as type)`;
}

/**
 * Adds members, resolving each id to its type in the same statement (one round trip: inside
 * a batch every statement is paid per request). An id that is not a live User or Group of
 * the organization (or not a uuid at all) is skipped and reported in `touched.unknown`: an
 * IdP's member list is its truth, and refusing the whole request would withhold the known
 * members and make the IdP retry forever (Okta group push racing a failed user assignment;
 * Microsoft's collection, "Group patch add member"). docs/scim.md, "Groups and members".
 */
async function insertMembers(client: PoolClient, organizationId: string, groupId: string, refs: MemberRef[], touched: Touched) {
  if (!refs.length) return;
  const all = [...new Set(refs.map((r) => r.value))];
  const ids = all.filter((id) => UUID.test(id));
  touched.unknown.push(...all.filter((id) => !UUID.test(id)));
  if (!ids.length) return;
  const { rows } = await client.query<{ id: string; type: string | null }>(prepared(
    `with ${memberAddCtes('$3', 'true')}
     select id::text, type from ins
     union all
     select w.id::text, null from w where w.type is null`,
    [groupId, organizationId, ids],
  ));
  touched.unknown.push(...rows.filter((r) => r.type === null).map((r) => r.id));
  noteTouched(rows.filter((r) => r.type !== null) as { id: string; type: string }[], touched);
}

function noteTouched(rows: { id: string; type: string }[], touched: Touched) {
  for (const r of rows) {
    if (r.type === 'User') touched.users.push(r.id);
    else touched.groups = true;
  }
}

/** Applies member changes: removeAll/replaceAll first, then removals, then additions. */
async function applyMemberChanges(client: PoolClient, organizationId: string, groupId: string, ch: MemberChanges): Promise<Touched> {
  const touched = noneTouched();
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

export async function createGroup(pool: Pool, organizationId: string, resource: Record<string, unknown>, members: MemberRef[], audit?: AuditContext): Promise<GroupRow> {
  const c = columns(resource);
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<GroupRow>(
      `insert into scim_groups as g (organization_id, display_name, external_id, resource)
       values ($1::uuid, $2::text, $3::text, $4::jsonb) returning ${SELECT}`,
      [organizationId, c.displayName, c.externalId, JSON.stringify(resource)],
    );
    const row = rows[0]!;
    const touched = noneTouched();
    await insertMembers(client, organizationId, row.id, members, touched);
    await markTouched(client, organizationId, touched, false);
    if (audit) await recordWrite(client, organizationId, audit, 'Group.create', row.id);
    return { ...row, unknownMembers: touched.unknown };
  });
}

export interface GroupChange {
  /** The new stored resource, or undefined when attributes are unchanged. */
  resource?: Record<string, unknown>;
  members?: MemberChanges;
}

const isRename = (ch: GroupChange, current: GroupRow) =>
  ch.resource !== undefined && JSON.stringify(ch.resource) !== JSON.stringify(current.resource);

/**
 * PUT and PATCH: `change` sees the current row and says what to write.
 *
 * Writes to one group in flight together run in one transaction (groupWriter.ts): the batch
 * locks the group row first and each request, in its own savepoint, sees the row the previous
 * one left, so renames, whole member-list replacements and If-Match are all computed on the
 * current locked row, and each response carries its own version; the commit is paid once
 * per batch instead of once per request (measurements in groupWriter.ts).
 */
export function updateGroup(
  pool: Pool,
  organizationId: string,
  id: string,
  ifMatch: string[] | undefined,
  change: (current: GroupRow) => GroupChange,
  audit?: AuditOperation,
): Promise<GroupRow> {
  if (!UUID.test(id)) return Promise.reject(new NotFoundError('Group', id));
  return writeBatched(
    pool,
    `${organizationId}/${id}`,
    (client) => getGroup(client, organizationId, id, true),
    // The entry is written inside the request's savepoint: a request of a batch that fails
    // is rolled back with its entry.
    async (client, current) => {
      const row = await writeGroup(client, organizationId, current, ifMatch, change);
      if (audit) await recordWrite(client, organizationId, audit.ctx, audit.operation, id);
      return row;
    },
    (db) => writeGroupAlone(db, organizationId, id, ifMatch, change, audit),
  );
}

/**
 * Rows this process recently wrote with the lone write, by "organization/group id", newest
 * last (at most RECENT_GROUPS): a sequential IdP sends PATCH after PATCH to one group (Entra
 * and Okta push a group's members one request at a time), and the lone write can then skip
 * its read. A cached row is only ever a guess: the write applies only while the group is
 * still at that row's version, and anything that does not fit (another version, another
 * If-Match, a change that fails on it) makes it read the group as usual.
 */
const recentByPool = new WeakMap<Pool, Map<string, GroupRow>>();
const RECENT_GROUPS = 1024;

function recentGroups(pool: Pool): Map<string, GroupRow> {
  let m = recentByPool.get(pool);
  if (!m) recentByPool.set(pool, (m = new Map()));
  return m;
}

function remember(recent: Map<string, GroupRow>, key: string, row: GroupRow) {
  const { unknownMembers: _, ...kept } = row;
  recent.delete(key);
  recent.set(key, kept);
  if (recent.size > RECENT_GROUPS) recent.delete(recent.keys().next().value!);
}

/**
 * The lone write (groupWriter.ts, WriteAlone): computes the change on the group as this
 * process last wrote it or, failing that, as read now (unlocked), and applies it in ONE
 * statement that first locks the row at that version — member removals and additions,
 * version bump, reconcile marker with its NOTIFY, audit entry — so all of it commits together
 * or not at all, as in the batch. Undefined (the caller takes the locked path, which re-reads)
 * when the group changed since the read, or for what the statement does not do: removeAll and
 * replaceAll (PUT, `replace members`), and an id both removed and added (a PATCH nets those,
 * src/scim/patch/members.ts; the locked path applies removals first for any other caller).
 * Throws NotFoundError, VersionMismatchError (If-Match against the version read) and the
 * change's own errors, as the batch does; never on the strength of the cached row alone.
 */
async function writeGroupAlone(
  db: Pool,
  organizationId: string,
  id: string,
  ifMatch: string[] | undefined,
  change: (current: GroupRow) => GroupChange,
  audit?: AuditOperation,
): Promise<GroupRow | undefined> {
  const key = `${organizationId}/${id}`;
  const recent = recentGroups(db);
  const guess = recent.get(key);
  if (guess && (ifMatch === undefined || ifMatch.includes(guess.version))) {
    let ch: GroupChange | undefined;
    try {
      ch = change(guess);
    } catch {
      // Judged on the group as read below, not on a row that may be stale.
    }
    const plan = ch && planAlone(guess, ch);
    const row = plan && (await applyAlone(db, organizationId, guess, plan, audit));
    if (row) {
      remember(recent, key, row);
      return row;
    }
  }
  recent.delete(key);
  const current = await getGroup(db, organizationId, id);
  if (ifMatch !== undefined && !ifMatch.includes(current.version)) throw new VersionMismatchError(current.version);
  const plan = planAlone(current, change(current));
  const row = plan && (await applyAlone(db, organizationId, current, plan, audit));
  if (row) remember(recent, key, row);
  return row;
}

/** What the lone statement writes for `ch` on `current`; undefined: not a change it does. */
interface AlonePlan {
  renamed: boolean;
  resource?: Record<string, unknown>;
  add: string[];
  remove: string[];
  /** Values named for adding that are no uuid: skipped, reported. */
  unknown: string[];
}

function planAlone(current: GroupRow, ch: GroupChange): AlonePlan | undefined {
  const m = ch.members ?? { add: [], remove: [] };
  if (m.removeAll || m.replaceAll) return undefined;
  const addValues = [...new Set(m.add.map((r) => r.value))];
  const add = addValues.filter((v) => UUID.test(v));
  const remove = [...new Set(m.remove.filter((v) => UUID.test(v)))];
  if (remove.some((v) => add.includes(v))) return undefined;
  const renamed = isRename(ch, current);
  return { renamed, resource: renamed ? ch.resource : undefined, add, remove, unknown: addValues.filter((v) => !UUID.test(v)) };
}

/**
 * The lone statement for `plan`, applied only while the group is at `current.version`:
 * the row it leaves (`current` when nothing changed), or undefined when the group is not at
 * that version any more (or gone).
 */
async function applyAlone(db: Pool, organizationId: string, current: GroupRow, plan: AlonePlan, audit?: AuditOperation): Promise<GroupRow | undefined> {
  const { id } = current;
  const { renamed, add, remove, unknown } = plan;
  const attrs = plan.resource ? columns(plan.resource) : undefined;
  const values: unknown[] = [id, organizationId, current.version, remove, add, renamed];
  if (attrs) values.push(attrs.displayName, attrs.externalId, JSON.stringify(plan.resource));
  const auditCte = auditEntryCte(values, audit, '$2', 'cur');
  // Every other part waits on `cur` (a one-time filter on it, evaluated before its scan), so
  // the group row is locked first, then the members' rows, as in the batch (lockOrder.ts).
  type Out = GroupRow & { locked: boolean; skipped: string[] | null; notified?: unknown };
  // The version is bumped exactly when a marker is written (both: renamed or members touched).
  const rows = await withWake(db, organizationId, (notify) => db.query<Out>(prepared(
    `with cur as materialized (
       select g.id from scim_groups g
        where g.id = $1::uuid and g.organization_id = $2::uuid and g.version = $3::bigint for update),
     rm as (delete from scim_group_members m
             where m.group_id = $1::uuid and m.member_id = any($4::uuid[]) and exists (select 1 from cur)
             returning m.member_id as id, m.member_type as type),
     ${memberAddCtes('$5', 'exists (select 1 from cur)')},
     touched as (select id, type from rm union all select id, type from ins),
     whole as (select $6::boolean or exists (select 1 from touched where type <> 'User')
                      or (select count(*) from touched) > ${MAX_USER_ITEMS} as org),
     q as (${markStatement('$2', `select null::uuid from whole where whole.org
                                   union all
                                   select distinct t.id from touched t, whole where not whole.org and t.type = 'User'`)}),
     g as (update scim_groups g
              set ${attrs ? 'display_name = $7::text, external_id = $8::text, resource = $9::jsonb,' : ''}
                  version = g.version + 1, last_modified = clock_timestamp()
            where g.id = (select id from cur) and ($6::boolean or exists (select 1 from touched))
            returning ${SELECT})${auditCte}
     select g.*, exists (select 1 from cur) as locked,
            (select array_agg(w.id::text) from w where w.type is null) as skipped
            ${notify ? `, ${notifyAfter('q', '$2')} as notified` : ''}
       from (select 1) as one left join g on true`,
    values,
  )), (r) => r[0]?.id != null);
  const { locked, skipped, notified: _, ...row } = rows[0]!;
  if (!locked) return undefined;
  const unknownMembers = [...unknown, ...(skipped ?? [])];
  if (row.id === null) return { ...current, unknownMembers };
  return { ...row, unknownMembers };
}

/** One request's write on the locked row `current`; returns the row it leaves. */
async function writeGroup(
  client: PoolClient,
  organizationId: string,
  current: GroupRow,
  ifMatch: string[] | undefined,
  change: (current: GroupRow) => GroupChange,
): Promise<GroupRow> {
  if (ifMatch !== undefined && !ifMatch.includes(current.version)) throw new VersionMismatchError(current.version);
  const ch = change(current);
  const renamed = isRename(ch, current);
  const touched = ch.members ? await applyMemberChanges(client, organizationId, current.id, ch.members) : noneTouched();
  // Always a fresh unknownMembers: the row returned is the next batched request's `current`.
  if (!renamed && !touched.users.length && !touched.groups) return { ...current, unknownMembers: touched.unknown };
  return { ...(await markAndBump(client, organizationId, current.id, touched, renamed ? ch.resource : undefined)), unknownMembers: touched.unknown };
}

/**
 * Marks what a write touched for reconciling (see markTouched) and bumps the version, setting
 * the attributes when `resource` is given: one statement, as every round trip inside a batch
 * is paid per request. Identical NOTIFYs of one transaction are delivered once.
 */
async function markAndBump(client: PoolClient, organizationId: string, id: string, touched: Touched, resource?: Record<string, unknown>): Promise<GroupRow> {
  const wholeOrg = resource !== undefined || touched.groups || touched.users.length > MAX_USER_ITEMS;
  const attrs = resource ? columns(resource) : undefined;
  // Two texts (with and without new attributes): prepared (pool.ts).
  const { rows } = await client.query<GroupRow & { notified?: unknown }>(prepared(
    `with q as (${markStatement('$2', 'select unnest(coalesce($3::uuid[], array[null::uuid]))')}),
          g as (update scim_groups g
                   set ${attrs ? 'display_name = $4::text, external_id = $5::text, resource = $6::jsonb,' : ''}
                       version = g.version + 1, last_modified = clock_timestamp()
                 where g.id = $1::uuid returning ${SELECT})
     select g.*, ${notifyAfter('q', '$2')} as notified from g`,
    [id, organizationId, wholeOrg ? null : [...new Set(touched.users)], ...(attrs ? [attrs.displayName, attrs.externalId, JSON.stringify(resource)] : [])],
  ));
  const { notified: _, ...row } = rows[0]!;
  return row;
}

export async function deleteGroup(pool: Pool, organizationId: string, id: string, ifMatch?: string[], audit?: AuditContext): Promise<void> {
  // A deadlock with a batch adding this group to another one (that batch holds the other
  // group's row and waits for this one) is retried, as the batch side is.
  await retryOnDeadlock(() => withTransaction(pool, async (client) => {
    if (UUID.test(id)) await lockGroupsContaining(client, id);
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
    if (audit) await recordWrite(client, organizationId, audit, 'Group.delete', id);
  }));
}

/**
 * A page of groups as keys (id, paging key, approximate size incl. members when they are
 * returned) in list order, for the streamed list response (see listUserKeys).
 */
export async function listGroupKeys(db: Queryable, organizationId: string, q: ListQuery, withMembers: boolean): Promise<ListPage<RowKey>> {
  const members = withMembers ? ' + 160 * (select count(*) from scim_group_members m where m.group_id = g.id)' : '';
  const select = `g.id, g.created_at::text as "createdAtKey", ${jsonbWeight('g.resource')}${members} as weight`;
  return listRows<RowKey>(db, { target: GROUPS_SQL, from: 'scim_groups g', live: 'true', select }, organizationId, q);
}

export async function listGroups(db: Queryable, organizationId: string, q: ListQuery): Promise<ListPage<GroupRow>> {
  return listRows<GroupRow>(db, { target: GROUPS_SQL, from: 'scim_groups g', live: 'true', select: SELECT }, organizationId, q);
}

/** Groups by id (any order; missing ids are left out), for a page of the root /.search. */
export async function getGroupsByIds(db: Queryable, organizationId: string, ids: string[]): Promise<GroupRow[]> {
  if (!ids.length) return [];
  const { rows } = await db.query<GroupRow>(
    `select ${SELECT} from scim_groups g where g.organization_id = $1::uuid and g.id = any($2::uuid[])`,
    [organizationId, ids],
  );
  return rows;
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
