// SCIM users of an organization. Every write also marks the user for reconciliation in the
// same transaction (DESIGN.md). Deleted users stay as tombstones (deleted_at) so the
// reconciler still knows they were managed and revokes them.
import type { PoolClient, Pool, Queryable } from './pool.js';
import { SQLSTATE, prepared, sqlState, withTransaction } from './pool.js';
import { ConflictError, NotFoundError, VersionMismatchError } from './errors.js';
import { markForReconcile, markStatement, notifyAfter } from './reconcileQueue.js';
import { withWake } from './wakeups.js';
import type { FilterNode } from '../scim/filter.js';
import { jsonbWeight, listRows, lookupRows, type ListPage, type ListQuery, type RowKey } from './list.js';
import { retryOnDeadlock } from './groupWriter.js';
import { lockGroupsContaining } from './lockOrder.js';
import { auditEntryCte, recordWrite, type AuditContext, type AuditOperation } from './audit.js';

const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
import { USERS_SQL } from './filterSql.js';

export interface UserRow {
  id: string;
  /** The user's groups, when the query was asked to include them (RFC 7643 §4.1.2). */
  groups?: GroupRef[];
  userName: string;
  active: boolean;
  resource: Record<string, unknown>;
  version: string;
  created: string;
  lastModified: string;
  createdAtKey: string;
}

/** The columns derived from the stored SCIM resource. */
function columns(resource: Record<string, unknown>) {
  return {
    userName: String(resource.userName),
    externalId: typeof resource.externalId === 'string' ? resource.externalId : null,
    displayName: typeof resource.displayName === 'string' ? resource.displayName : null,
    active: resource.active !== false,
  };
}

/** The columns of a UserRow; `resource`: the expression for the resource column. */
const userColumns = (resource = 'u.resource') => `u.id, u.user_name as "userName", u.active, ${resource} as resource, u.version::text as version,
  to_json(u.created_at)#>>'{}' as created, to_json(u.last_modified)#>>'{}' as "lastModified",
  u.created_at::text as "createdAtKey"`;
const SELECT = userColumns();

// The groups of a user in the same query as the user: one round trip for a page of users.
const GROUPS_OF_USER = `(select coalesce(json_agg(json_build_object('value', g.id, 'display', g.display_name) order by g.display_name), '[]'::json)
     from scim_group_members m join scim_groups g on g.id = m.group_id where m.member_id = u.id)`;
const SELECT_GROUPS = `${GROUPS_OF_USER} as groups`;

const isUuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

export async function getUser(db: Queryable, organizationId: string, id: string, forUpdate = false, withGroups = false): Promise<UserRow> {
  if (!isUuid(id)) throw new NotFoundError('User', id);
  const { rows } = await db.query<UserRow>(prepared(
    `select ${SELECT}${withGroups ? `, ${SELECT_GROUPS}` : ''} from scim_users u
      where u.organization_id = $1::uuid and u.id = $2::uuid and u.deleted_at is null${forUpdate ? ' for update' : ''}`,
    [organizationId, id],
  ));
  if (!rows[0]) throw new NotFoundError('User', id);
  return rows[0];
}

function checkVersion(row: UserRow, ifMatch: string[] | undefined) {
  if (ifMatch !== undefined && !ifMatch.includes(row.version)) throw new VersionMismatchError(row.version);
}

async function findLiveByUserName(client: PoolClient, organizationId: string, userName: string) {
  const { rows } = await client.query<UserRow>(
    `select ${SELECT} from scim_users u
      where u.organization_id = $1::uuid and lower(u.user_name) = lower($2::text) and u.deleted_at is null for update`,
    [organizationId, userName],
  );
  return rows[0];
}

const conflictDetail = (userName: string) => `userName "${userName}" is already taken by another User of this organization`;

/**
 * Creates a user. A POST for the userName of an *inactive* user re-provisions that user
 * (same id, resource replaced) instead of answering 409: IdPs that re-enable someone they
 * deactivated by POSTing again would otherwise loop on 409 (RFC 7644 §3.3 leaves it open).
 * When the POST's externalId differs from the inactive user's, it is another person with a
 * reused address: the re-provisioned user starts with no group memberships (isAnotherPerson).
 * Returns the row and whether it was re-provisioned.
 */
export async function createUser(
  pool: Pool,
  organizationId: string,
  resource: Record<string, unknown>,
  audit?: AuditContext,
): Promise<{ row: UserRow; reprovisioned: boolean }> {
  const c = columns(resource);
  // The common case in one statement (its own transaction): insert, mark for reconcile,
  // audit entry, NOTIFY. Only a userName that is taken goes the slower way below.
  const auditCte = audit
    ? `, a as (insert into audit_log (organization_id, organization, actor, operation, resource_id, request_id)
               select $1::uuid, $7::text, $8::text, 'User.create', u.id::text, $9::text from u)`
    : '';
  const rows = await withWake(pool, organizationId, (notify) => pool.query<UserRow>(prepared(
    `with u as (
       insert into scim_users as u (organization_id, user_name, external_id, display_name, active, resource)
       values ($1::uuid, $2::text, $3::text, $4::text, $5::boolean, $6::jsonb)
       on conflict (organization_id, lower(user_name)) where deleted_at is null do nothing
       returning ${SELECT}
     ), q as (${markStatement('$1', 'select id from u')})${auditCte}
     select u.*${notify ? `, ${notifyAfter('q', '$1')} as notified` : ''} from u`,
    [organizationId, c.userName, c.externalId, c.displayName, c.active, JSON.stringify(resource),
      ...(audit ? [audit.organization, audit.actor, audit.requestId ?? null] : [])],
  )));
  if (rows[0]) {
    const { notified: _, ...row } = rows[0] as UserRow & { notified?: unknown };
    return { row: { ...row, groups: [] }, reprovisioned: false };
  }
  return withTransaction(pool, async (client) => {
    const existing = await findLiveByUserName(client, organizationId, c.userName);
    if (!existing || existing.active) throw new ConflictError(conflictDetail(c.userName));
    const row = (await writeUser(client, organizationId, existing.id, resource, audit && { ctx: audit, operation: 'User.create' }))!;
    if (isAnotherPerson(existing.resource.externalId, c.externalId)) await dropMemberships(client, row.id);
    return { row, reprovisioned: true };
  });
}

/**
 * Whether a re-provisioning POST is for someone else than the inactive user it revives: both
 * carry an externalId (the IdP's own id for the person, RFC 7643 §3.1) and they differ — an
 * address reused for a new hire. That person must not inherit the previous one's groups.
 * Without an externalId on either side nothing tells them apart, and memberships stay (an IdP
 * re-enabling the same person). externalId is caseExact, so the comparison is too.
 */
function isAnotherPerson(previous: unknown, next: string | null): boolean {
  return typeof previous === 'string' && next !== null && previous !== next;
}

/**
 * Removes every group membership of a user; those groups change too (meta.version and
 * lastModified, RFC 7644 §3.14), so their versions are bumped.
 */
async function dropMemberships(client: PoolClient, userId: string): Promise<void> {
  await client.query(
    `with gone as (delete from scim_group_members where member_id = $1::uuid returning group_id)
     update scim_groups g set version = g.version + 1, last_modified = clock_timestamp()
      where g.id in (select group_id from gone)`,
    [userId],
  );
}

/**
 * Writes a user's new resource, marks it for reconciliation (with its NOTIFY) and, with
 * `audit`, records the write — one statement, so all three commit together or not at all.
 * With `expectedVersion`, only a live user still at that version is written: undefined when
 * it is not (changed or deleted since it was read). Throws ConflictError when the new
 * userName is taken. `autocommit`: `db` is a pool and the statement commits on its own, so
 * its NOTIFY is coalesced (wakeups.ts); inside a transaction it always carries its NOTIFY.
 */
async function writeUser(
  db: Queryable,
  organizationId: string,
  id: string,
  resource: Record<string, unknown>,
  audit?: AuditOperation,
  expectedVersion?: string,
  autocommit = false,
): Promise<UserRow | undefined> {
  const c = columns(resource);
  const values: unknown[] = [organizationId, id, c.userName, c.externalId, c.displayName, c.active, JSON.stringify(resource)];
  let guard = '';
  if (expectedVersion !== undefined) {
    values.push(expectedVersion);
    guard = ` and u.version = $${values.length}::bigint and u.deleted_at is null`;
  }
  const auditCte = auditEntryCte(values, audit, '$1', 'u');
  const statement = (notify: boolean) => db.query<UserRow>(prepared(
    `with u as (
       update scim_users u set user_name = $3::text, external_id = $4::text, display_name = $5::text, active = $6::boolean,
              resource = $7::jsonb, version = u.version + 1, last_modified = clock_timestamp()
        where u.organization_id = $1::uuid and u.id = $2::uuid${guard} returning ${SELECT}
     ), q as (${markStatement('$1', 'select id from u')})${auditCte}
     select u.*${notify ? `, ${notifyAfter('q', '$1')} as notified` : ''} from u`,
    values,
  ));
  try {
    const rows = autocommit ? await withWake(db, organizationId, statement) : (await statement(true)).rows;
    if (!rows[0]) return undefined;
    const { notified: _, ...row } = rows[0] as UserRow & { notified?: unknown };
    return row;
  } catch (err) {
    if (sqlState(err) === SQLSTATE.uniqueViolation) throw new ConflictError(conflictDetail(c.userName));
    throw err;
  }
}

/** Optimistic attempts of updateUser before it takes the row lock instead. */
const OPTIMISTIC_ATTEMPTS = 3;

/**
 * Replaces (PUT) or patches a user: `change` gets the current resource and returns the new
 * one, or undefined when nothing changes (no write, no version bump). Concurrent writers to
 * one user never lose updates: the user is read, changed in memory and written back only if
 * its version is still the one read (one statement that also marks it for reconciliation and
 * records the audit entry), else read again; after OPTIMISTIC_ATTEMPTS lost races the write
 * runs under the row lock. Two round trips and no transaction block for the usual write,
 * where the locked form took four (begin, select … for update, write, commit): on the
 * deprovisioning path every round trip waits for a CPU on a busy machine (docs/benchmarks.md,
 * scenario 6). Throws NotFoundError, VersionMismatchError (If-Match), ConflictError (userName).
 */
export async function updateUser(
  pool: Pool,
  organizationId: string,
  id: string,
  ifMatch: string[] | undefined,
  change: (current: UserRow) => Record<string, unknown> | undefined,
  audit?: AuditOperation,
): Promise<UserRow> {
  /**
   * One read-change-write. locked: inside a transaction holding the row lock (the write cannot
   * lose); otherwise the write is kept only at the version read (undefined: lost the race).
   */
  const attempt = async (db: Queryable, locked: boolean): Promise<UserRow | undefined> => {
    const current = await getUser(db, organizationId, id, locked);
    checkVersion(current, ifMatch);
    const next = change(current);
    // A write that changes nothing is still the client's write: it is recorded too.
    if (!next) {
      if (audit) await recordWrite(db, organizationId, audit.ctx, audit.operation, id);
      return current;
    }
    return writeUser(db, organizationId, id, next, audit, locked ? undefined : current.version, !locked);
  };
  for (let i = 0; i < OPTIMISTIC_ATTEMPTS; i++) {
    const row = await attempt(pool, false);
    if (row) return row;
  }
  return withTransaction(pool, async (client) => (await attempt(client, true))!);
}

/** Deletes a user: tombstone it, drop its group memberships, mark it for reconciliation. */
export async function deleteUser(pool: Pool, organizationId: string, id: string, ifMatch?: string[], audit?: AuditContext): Promise<void> {
  // Groups first, then the user (lockOrder.ts): a group batch adding this user holds its group
  // row, then wants the user's. A deadlock left over (a group that gained the user between the
  // two locks) is retried, as the batch side is.
  await retryOnDeadlock(() => withTransaction(pool, async (client) => {
    if (UUID_SHAPE.test(id)) await lockGroupsContaining(client, id);
    const current = await getUser(client, organizationId, id, true);
    checkVersion(current, ifMatch);
    await client.query(`update scim_users set deleted_at = clock_timestamp(), active = false where id = $1::uuid`, [id]);
    await dropMemberships(client, id);
    await markForReconcile(client, organizationId, [id]);
    if (audit) await recordWrite(client, organizationId, audit, 'User.delete', id);
  }));
}

/** A key of a users page, with the user's row when listUserKeys could read it in the same statement. */
export type UserKey = RowKey & Partial<UserRow>;

/**
 * A page of users as keys (id, paging key, approximate size) in list order: the HTTP layer
 * fetches the rows in memory-bounded chunks (getUsersByIds) and streams them. With
 * `preloadBytes`, the same statement also returns the row of every user whose weight is at
 * most preloadBytes ÷ count (`resource` set; else only the key), so a page of ordinary users
 * is one statement instead of two while the rows it holds stay within preloadBytes.
 */
export async function listUserKeys(db: Queryable, organizationId: string, q: ListQuery, withGroups = false, preloadBytes = 0): Promise<ListPage<UserKey>> {
  const groups = withGroups ? ' + 80 * (select count(*) from scim_group_members m where m.member_id = u.id)' : '';
  // The weight once per row, though both the key and the preload test use it (a LATERAL with
  // "offset 0": without it the planner inlines the expression into each use).
  const pageFrom = `scim_users u cross join lateral (select ${jsonbWeight('u.resource')}${groups} as weight offset 0) w`;
  let select = 'u.id, u.created_at::text as "createdAtKey", w.weight';
  const perRow = Math.floor(preloadBytes / Math.max(1, q.count));
  if (perRow > 0) {
    const small = `w.weight <= ${perRow}`;
    select = `${userColumns(`case when ${small} then u.resource end`)}, w.weight${withGroups ? `, case when ${small} then ${GROUPS_OF_USER} end as groups` : ''}`;
  }
  return listRows<UserKey>(db, { target: USERS_SQL, from: 'scim_users u', pageFrom, live: 'u.deleted_at is null', select }, organizationId, q);
}

export async function listUsers(db: Queryable, organizationId: string, q: ListQuery, withGroups = false): Promise<ListPage<UserRow>> {
  const select = withGroups ? `${SELECT}, ${SELECT_GROUPS}` : SELECT;
  return listRows<UserRow>(db, { target: USERS_SQL, from: 'scim_users u', live: 'u.deleted_at is null', select }, organizationId, q);
}

/**
 * The page of a lookup that matches at most one user (matchesAtMostOne), with its row, in one
 * query. A filter that is a single comparison has few possible texts (the unique attributes),
 * so its statement is prepared (pool.ts, prepared).
 */
export async function lookupUser(db: Queryable, organizationId: string, q: ListQuery & { filter: FilterNode }, withGroups = false): Promise<ListPage<UserRow>> {
  const select = withGroups ? `${SELECT}, ${SELECT_GROUPS}` : SELECT;
  const prepare = q.filter.kind === 'compare';
  return lookupRows<UserRow>(db, { target: USERS_SQL, from: 'scim_users u', live: 'u.deleted_at is null', select, prepare }, organizationId, q);
}

/** Live users by id (any order; missing ids are left out), for a page of the root /.search. */
export async function getUsersByIds(db: Queryable, organizationId: string, ids: string[], withGroups = false): Promise<UserRow[]> {
  if (!ids.length) return [];
  const { rows } = await db.query<UserRow>(
    `select ${SELECT}${withGroups ? `, ${SELECT_GROUPS}` : ''} from scim_users u
      where u.organization_id = $1::uuid and u.id = any($2::uuid[]) and u.deleted_at is null`,
    [organizationId, ids],
  );
  return rows;
}

export interface GroupRef {
  value: string;
  display: string;
}

/** The groups of each user (RFC 7643 §4.1.2 "groups", read-only), for a page of users in one query. */
export async function groupsOfUsers(db: Queryable, userIds: string[]): Promise<Map<string, GroupRef[]>> {
  const out = new Map<string, GroupRef[]>();
  if (!userIds.length) return out;
  const { rows } = await db.query<GroupRef & { userId: string }>(
    `select m.member_id as "userId", g.id as value, g.display_name as display
       from scim_group_members m join scim_groups g on g.id = m.group_id
      where m.member_id = any($1::uuid[]) order by g.display_name`,
    [userIds],
  );
  for (const { userId, ...ref } of rows) {
    const list = out.get(userId) ?? [];
    list.push(ref);
    out.set(userId, list);
  }
  return out;
}
