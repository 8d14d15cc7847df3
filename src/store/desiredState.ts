// Desired state, read straight from the ingress's tables for the reconciler (level-based:
// re-read on every pass). Keys are lower(user_name) as Postgres computes it, ordered
// collate "C" (byte order), which is the order compareEmails() and the targets use. Rows come
// back as stored; the reconciler parses specs and turns rows into members
// (src/reconciler/desired.ts).
import { readAhead } from '../pages.js';
import type { Queryable } from './pool.js';

/** An organization as stored (spec unparsed). */
export interface OrganizationRow {
  id: string;
  slug: string;
  spec: Record<string, unknown>;
}

/** One scim_users row of an email, with the indexes of the role mappings it is in. */
export interface DesiredUserRow {
  /** lower(user_name). */
  email: string;
  id: string;
  displayName: string | null;
  externalId: string | null;
  active: boolean;
  deleted: boolean;
  /** Indexes into spec.roleMappings of the mapped groups the user is in (null: none). */
  idxs: number[] | null;
}

/** Group id → index into spec.roleMappings, expanded to nested groups; one pair per match. */
export interface MappedGroups {
  groupIds: string[];
  indexes: number[];
}

/** The live (not deleted) organization by id (a uuid) or slug. */
export async function readOrganizationRow(db: Queryable, idOrSlug: string): Promise<OrganizationRow | undefined> {
  const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(idOrSlug);
  const { rows } = await db.query<OrganizationRow>(
    `select id, slug, spec from organizations where ${isUuid ? 'id = $1::uuid' : 'slug = $1::text'} and deleted_at is null`,
    [idOrSlug],
  );
  return rows[0];
}

/**
 * The live organization and, per user id, every email a user item concerns (its current
 * userName and any it was granted under before), in one round trip for a whole batch of user
 * items; undefined when the organization is gone or deleted.
 */
export async function readUserItemEmails(db: Queryable, organizationId: string, userIds: string[]): Promise<{ org: OrganizationRow; emails: Record<string, string[]> } | undefined> {
  const { rows } = await db.query<OrganizationRow & { emails: Record<string, string[]> }>({
    name: 'scimsync-user-items',
    text: `select o.id, o.slug, o.spec,
                  (select coalesce(json_object_agg(x.uid, x.emails), '{}') from (
                     select u.uid, array(select lower(user_name) collate "C" from scim_users where id = u.uid and organization_id = o.id
                                         union
                                         select email from reconcile_managed_members where user_id = u.uid and organization_id = o.id) as emails
                       from unnest($2::uuid[]) as u(uid)) x) as emails
             from organizations o where o.id = $1::uuid and o.deleted_at is null`,
    values: [organizationId, userIds],
  });
  const row = rows[0];
  return row ? { org: { id: row.id, slug: row.slug, spec: row.spec }, emails: row.emails } : undefined;
}

/**
 * The groups `groupNames` (spec.roleMappings[].group, by displayName case-insensitively or by
 * externalId) and every group nested in them, each paired with its mapping's index.
 */
export async function readMappedGroups(db: Queryable, organizationId: string, groupNames: string[]): Promise<MappedGroups> {
  if (groupNames.length === 0) return { groupIds: [], indexes: [] };
  // A member of type Group inherits the mapping of the group containing it (union: cycle-safe).
  const { rows } = await db.query<{ groupId: string; idx: number }>(
    `with recursive mapped(group_id, idx) as (
       select g.id, (m.ord - 1)::int
         from scim_groups g
         join unnest($2::text[]) with ordinality as m(name, ord)
           on lower(g.display_name) = lower(m.name) or g.external_id = m.name
        where g.organization_id = $1::uuid
       union
       select gm.member_id, mapped.idx
         from mapped join scim_group_members gm on gm.group_id = mapped.group_id and gm.member_type = 'Group'
     )
     select group_id as "groupId", idx from mapped`,
    [organizationId, groupNames],
  );
  return { groupIds: rows.map((r) => r.groupId), indexes: rows.map((r) => r.idx) };
}

const USER_BASE_COLUMNS = `lower(u.user_name) collate "C" as email, u.id, u.display_name as "displayName",
  u.external_id as "externalId", u.active, u.deleted_at is not null as deleted`;
const USER_COLUMNS = `${USER_BASE_COLUMNS},
  (select array_agg(distinct r.idx)
     from scim_group_members gm join unnest($2::uuid[], $3::int[]) as r(gid, idx) on r.gid = gm.group_id
    where gm.member_id = u.id and gm.member_type = 'User') as idxs`;
/**
 * USER_COLUMNS for an organization that maps no groups: its users are in no mapped group, and
 * the per-user subquery was two thirds of a full pass's page (4 of 5 ms per 1,000 users,
 * EXPLAIN ANALYZE). $2 and $3 stay referenced so the statement's parameters do not change.
 */
const USER_COLUMNS_NO_GROUPS = `${USER_BASE_COLUMNS}, case when cardinality($2::uuid[]) + cardinality($3::int[]) > 0 then null end::int[] as idxs`;

/** One email's rows (live and tombstones) as readMemberRows returns them; `managed`: the email is in reconcile_managed_members; `approved` null: no hold on it. */
export interface MemberRows {
  email: string;
  users: DesiredUserRow[];
  managed: boolean;
  approved: boolean | null;
}

/**
 * The user rows of each email, whether it is a managed member, and its hold, in one statement (one snapshot, one round trip for
 * a batch): per-user passes read them under the members' locks.
 */
export async function readMemberRows(db: Queryable, organizationId: string, groups: MappedGroups, emails: string[]): Promise<MemberRows[]> {
  const { rows } = await db.query<MemberRows>({
    name: 'scimsync-read-members',
    text: `select e.email,
                  coalesce((select json_agg(r) from (select ${USER_COLUMNS} from scim_users u
                             where u.organization_id = $1::uuid and lower(u.user_name) collate "C" = e.email) r), '[]') as users,
                  exists (select 1 from reconcile_managed_members m where m.organization_id = $1::uuid and m.email = e.email) as managed,
                  (select h.approved_at is not null from reconcile_holds h where h.organization_id = $1::uuid and h.email = e.email) as approved
             from unnest($4::text[]) as e(email)`,
    values: [organizationId, groups.groupIds, groups.indexes, emails],
  });
  return rows;
}

/**
 * Users in email order, keyset-paged on (email, id) so tombstones of one email never split
 * badly, a page per element; one page is read ahead (readAhead).
 */
export function userRows(db: Queryable, organizationId: string, groups: MappedGroups, pageSize: number): AsyncGenerator<DesiredUserRow[]> {
  const columns = groups.groupIds.length ? USER_COLUMNS : USER_COLUMNS_NO_GROUPS;
  return readAhead<[string, string], DesiredUserRow[]>(
    ['', '00000000-0000-0000-0000-000000000000'],
    async (cursor) => (await db.query<DesiredUserRow>(
      `select ${columns} from scim_users u
        where u.organization_id = $1::uuid and (lower(u.user_name) collate "C", u.id) > ($4::text, $5::uuid)
        order by lower(u.user_name) collate "C", u.id
        limit $6::int`,
      [organizationId, groups.groupIds, groups.indexes, cursor[0], cursor[1], pageSize],
    )).rows,
    (rows) => {
      const last = rows[rows.length - 1];
      return rows.length < pageSize || !last ? undefined : [last.email, last.id];
    },
  );
}

/** Managed members' emails in email order, keyset-paged (a page per element), one page read ahead. */
export function managedEmails(db: Queryable, organizationId: string, pageSize: number): AsyncGenerator<string[]> {
  return readAhead<string, string[]>(
    '',
    async (cursor) => (await db.query<{ email: string }>(
      `select email from reconcile_managed_members where organization_id = $1::uuid and email > $2::text order by email limit $3::int`,
      [organizationId, cursor, pageSize],
    )).rows.map((r) => r.email),
    (emails) => (emails.length < pageSize ? undefined : emails[emails.length - 1]),
  );
}
