// Desired state, read straight from the ingress's tables (level-based: re-read on every pass).
// Keys are lower(user_name) as Postgres computes it, ordered collate "C" (byte order), which
// is the order compareEmails() and the targets use.
import { scimConfigSpec, type ResolvedScimConfigSpec } from '../orgs/scimConfig.js';
import type { Queryable } from '../store/pool.js';
import { compareEmails, normalizeTeams, type MemberSpec } from '../targets/target.js';
import type { DesiredEntry } from './diff.js';
import { TerminalError } from './errors.js';

export interface Organization {
  id: string;
  slug: string;
  spec: ResolvedScimConfigSpec;
}

/** Thrown when organizations.spec does not parse: retrying cannot fix it, a new spec will (terminal). */
export class InvalidSpecError extends TerminalError {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidSpecError';
  }
}

interface OrganizationRow {
  id: string;
  slug: string;
  spec: Record<string, unknown>;
}

function organizationOf(row: OrganizationRow): Organization {
  const parsed = scimConfigSpec.safeParse({ ...row.spec, organization: row.slug });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new InvalidSpecError(`organization ${row.slug}: invalid spec: ${problems}`);
  }
  return { id: row.id, slug: row.slug, spec: parsed.data };
}

/** The organization to reconcile; undefined when it does not exist or is deleted (never provisioned). */
export async function loadOrganization(db: Queryable, idOrSlug: string): Promise<Organization | undefined> {
  const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(idOrSlug);
  const { rows } = await db.query<OrganizationRow>(
    `select id, slug, spec from organizations where ${isUuid ? 'id = $1::uuid' : 'slug = $1::text'} and deleted_at is null`,
    [idOrSlug],
  );
  return rows[0] ? organizationOf(rows[0]) : undefined;
}

/**
 * The organization and, per user, every email a user item concerns (its current userName and
 * any it was granted under before), in one round trip for a whole batch of user items;
 * undefined when the organization is gone or deleted.
 */
export async function loadUserItems(db: Queryable, organizationId: string, userIds: string[]): Promise<{ org: Organization; emails: Map<string, string[]> } | undefined> {
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
  return rows[0] ? { org: organizationOf(rows[0]), emails: new Map(Object.entries(rows[0].emails)) } : undefined;
}

/**
 * loadUserItems' answer from what the claim statement read (claimItems), without a round trip;
 * null when the items were not claimed that way (then call loadUserItems).
 */
export function claimedUserItems(items: { userId: string | null; org?: OrganizationRow | null; emails?: string[] }[]): { org: Organization; emails: Map<string, string[]> } | undefined | null {
  if (items.some((i) => i.org === undefined || i.emails === undefined)) return null;
  const row = items[0].org;
  if (!row) return undefined;
  return { org: organizationOf(row), emails: new Map(items.map((i) => [i.userId!, i.emails!])) };
}

/** Group id → index into spec.roleMappings, expanded to nested groups; one pair per match. */
export interface MappedGroups {
  groupIds: string[];
  indexes: number[];
}

export async function resolveMappedGroups(db: Queryable, org: Organization): Promise<MappedGroups> {
  const names = org.spec.roleMappings.map((m) => m.group);
  if (names.length === 0) return { groupIds: [], indexes: [] };
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
    [org.id, names],
  );
  return { groupIds: rows.map((r) => r.groupId), indexes: rows.map((r) => r.idx) };
}

interface UserRow {
  email: string;
  id: string;
  displayName: string | null;
  externalId: string | null;
  active: boolean;
  deleted: boolean;
  idxs: number[] | null;
}

const USER_COLUMNS = `lower(u.user_name) collate "C" as email, u.id, u.display_name as "displayName",
  u.external_id as "externalId", u.active, u.deleted_at is not null as deleted,
  (select array_agg(distinct r.idx)
     from scim_group_members gm join unnest($2::uuid[], $3::int[]) as r(gid, idx) on r.gid = gm.group_id
    where gm.member_id = u.id and gm.member_type = 'User') as idxs`;

/** The member a live user row stands for, or undefined when it should not be a member. */
export function memberFor(org: Organization, row: UserRow): MemberSpec | undefined {
  if (row.deleted || !row.active) return undefined;
  const idxs = [...(row.idxs ?? [])].sort((a, b) => a - b);
  if (org.spec.membership === 'mappedGroupsOnly' && idxs.length === 0) return undefined;
  const mappings = idxs.map((i) => org.spec.roleMappings[i]);
  return {
    email: row.email,
    role: mappings[0]?.role ?? org.spec.defaultRole,
    teams: normalizeTeams(mappings.flatMap((m) => m.teams)),
    displayName: row.displayName,
    externalId: row.externalId,
  };
}

/** Live row wins over tombstones of the same email (a user re-provisioned after DELETE). */
function entryFor(org: Organization, email: string, rows: UserRow[]): DesiredEntry {
  const live = rows.find((r) => !r.deleted);
  const member = live ? memberFor(org, live) : undefined;
  return { email, member, userId: (live ?? rows[0])?.id };
}

/** The desired entry of one email, or undefined when SCIM never knew it (unmanaged). */
export async function readDesiredEntry(db: Queryable, org: Organization, groups: MappedGroups, email: string): Promise<DesiredEntry | undefined> {
  const { rows } = await db.query<UserRow>(
    `select ${USER_COLUMNS} from scim_users u
      where u.organization_id = $1::uuid and lower(u.user_name) collate "C" = $4::text`,
    [org.id, groups.groupIds, groups.indexes, email],
  );
  if (rows.length) return entryFor(org, email, rows);
  const m = await db.query(`select 1 from reconcile_managed_members where organization_id = $1::uuid and email = $2::text`, [org.id, email]);
  return m.rowCount ? { email } : undefined;
}

/** Where a revocation of this email stands with the guard: no hold, held, or held and approved. */
export type HoldState = 'none' | 'held' | 'approved';

export interface MemberState {
  desired: DesiredEntry | undefined;
  hold: HoldState;
}

/**
 * readDesiredEntry and the hold state of each email, in one statement (one snapshot, one round
 * trip for a batch): per-user passes read them under the members' locks.
 */
export async function readMembers(db: Queryable, org: Organization, groups: MappedGroups, emails: string[]): Promise<Map<string, MemberState>> {
  const { rows } = await db.query<{ email: string; users: UserRow[]; managed: boolean; approved: boolean | null }>({
    name: 'scimsync-read-members',
    text: `select e.email,
                  coalesce((select json_agg(r) from (select ${USER_COLUMNS} from scim_users u
                             where u.organization_id = $1::uuid and lower(u.user_name) collate "C" = e.email) r), '[]') as users,
                  exists (select 1 from reconcile_managed_members m where m.organization_id = $1::uuid and m.email = e.email) as managed,
                  (select h.approved_at is not null from reconcile_holds h where h.organization_id = $1::uuid and h.email = e.email) as approved
             from unnest($4::text[]) as e(email)`,
    values: [org.id, groups.groupIds, groups.indexes, emails],
  });
  const out = new Map<string, MemberState>();
  for (const { email, users, managed, approved } of rows) {
    const desired = users.length ? entryFor(org, email, users) : managed ? { email } : undefined;
    out.set(email, { desired, hold: approved === null ? 'none' : approved ? 'approved' : 'held' });
  }
  return out;
}

/** Users in email order, keyset-paged on (email, id) so tombstones of one email never split badly. */
async function* userRows(db: Queryable, org: Organization, groups: MappedGroups, pageSize: number): AsyncGenerator<UserRow> {
  let cursor: [string, string] = ['', '00000000-0000-0000-0000-000000000000'];
  for (;;) {
    const { rows } = await db.query<UserRow>(
      `select ${USER_COLUMNS} from scim_users u
        where u.organization_id = $1::uuid and (lower(u.user_name) collate "C", u.id) > ($4::text, $5::uuid)
        order by lower(u.user_name) collate "C", u.id
        limit $6::int`,
      [org.id, groups.groupIds, groups.indexes, cursor[0], cursor[1], pageSize],
    );
    yield* rows;
    if (rows.length < pageSize) return;
    const last = rows[rows.length - 1];
    cursor = [last.email, last.id];
  }
}

async function* managedEmails(db: Queryable, org: Organization, pageSize: number): AsyncGenerator<string> {
  let cursor = '';
  for (;;) {
    const { rows } = await db.query<{ email: string }>(
      `select email from reconcile_managed_members where organization_id = $1::uuid and email > $2::text order by email limit $3::int`,
      [org.id, cursor, pageSize],
    );
    for (const r of rows) yield r.email;
    if (rows.length < pageSize) return;
    cursor = rows[rows.length - 1].email;
  }
}

/**
 * The organization's desired entries in email order, streamed page by page: memory stays
 * bounded by the page size whatever the organization's size.
 */
export async function* desiredEntries(db: Queryable, org: Organization, groups: MappedGroups, pageSize: number): AsyncGenerator<DesiredEntry> {
  const users = userRows(db, org, groups, pageSize);
  const managed = managedEmails(db, org, pageSize);
  let u = await users.next();
  let m = await managed.next();
  while (!u.done || !m.done) {
    const email = u.done ? (m.value as string) : m.done ? u.value.email : compareEmails(u.value.email, m.value as string) <= 0 ? u.value.email : (m.value as string);
    const rows: UserRow[] = [];
    while (!u.done && u.value.email === email) {
      rows.push(u.value);
      u = await users.next();
    }
    while (!m.done && m.value === email) m = await managed.next();
    yield rows.length ? entryFor(org, email, rows) : { email };
  }
}
