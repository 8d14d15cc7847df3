// Desired state, read straight from the ingress's tables (level-based: re-read on every pass;
// the statements are in src/store/desiredState.ts). Here the rows become what a pass plans
// with: the organization's parsed spec, and per email the member it should be (or none).
// Keys are lower(user_name) ordered by byte, the order compareEmails() and the targets use.
import { scimConfigSpec, type ResolvedScimConfigSpec } from '../orgs/scimConfig.js';
import type { DesiredUserRow as UserRow, MappedGroups, OrganizationRow } from '../store/desiredState.js';
import type { ReconcilerStatements } from '../store/reconcilerStore.js';
import { compareEmails, normalizeTeams, type MemberSpec } from '../targets/target.js';
import type { DesiredEntry } from './diff.js';
import { TerminalError } from './errors.js';
import { PageReader } from './pageReader.js';

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

export type { MappedGroups };

function organizationOf(row: OrganizationRow): Organization {
  const parsed = scimConfigSpec.safeParse({ ...row.spec, organization: row.slug });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new InvalidSpecError(`organization ${row.slug}: invalid spec: ${problems}`);
  }
  return { id: row.id, slug: row.slug, spec: parsed.data };
}

/** The organization to reconcile; undefined when it does not exist or is deleted (never provisioned). */
export async function loadOrganization(db: ReconcilerStatements, idOrSlug: string): Promise<Organization | undefined> {
  const row = await db.readOrganizationRow(idOrSlug);
  return row ? organizationOf(row) : undefined;
}

/**
 * The organization and, per user, every email a user item concerns (its current userName and
 * any it was granted under before), in one round trip for a whole batch of user items;
 * undefined when the organization is gone or deleted.
 */
export async function loadUserItems(db: ReconcilerStatements, organizationId: string, userIds: string[]): Promise<{ org: Organization; emails: Map<string, string[]> } | undefined> {
  const got = await db.readUserItemEmails(organizationId, userIds);
  return got ? { org: organizationOf(got.org), emails: new Map(Object.entries(got.emails)) } : undefined;
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

/** The organization's mapped groups (spec.roleMappings), nested groups included. */
export async function resolveMappedGroups(db: ReconcilerStatements, org: Organization): Promise<MappedGroups> {
  return db.readMappedGroups(org.id, org.spec.roleMappings.map((m) => m.group));
}

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

/** Where a revocation of this email stands with the guard: no hold, held, or held and approved. */
export type HoldState = 'none' | 'held' | 'approved';

export interface MemberState {
  desired: DesiredEntry | undefined;
  hold: HoldState;
}

/**
 * The desired entry and the hold state of each email, in one statement (one snapshot, one round
 * trip for a batch): per-user passes read them under the members' locks.
 */
export async function readMembers(db: ReconcilerStatements, org: Organization, groups: MappedGroups, emails: string[]): Promise<Map<string, MemberState>> {
  const rows = await db.readMemberRows(org.id, groups, emails);
  const out = new Map<string, MemberState>();
  for (const { email, users, managed, approved } of rows) {
    const desired = users.length ? entryFor(org, email, users) : managed ? { email } : undefined;
    out.set(email, { desired, hold: approved === null ? 'none' : approved ? 'approved' : 'held' });
  }
  return out;
}

/**
 * The organization's desired entries in email order, in pages of about `pageSize`, streamed:
 * memory stays bounded by the page size whatever the organization's size.
 */
export async function* desiredEntries(db: ReconcilerStatements, org: Organization, groups: MappedGroups, pageSize: number): AsyncGenerator<DesiredEntry[]> {
  const users = new PageReader(db.userRows(org.id, groups, pageSize));
  const managed = new PageReader(db.managedEmails(org.id, pageSize));
  let out: DesiredEntry[] = [];
  for (;;) {
    const fu = users.fill();
    if (fu) await fu;
    const fm = managed.fill();
    if (fm) await fm;
    if (users.done && managed.done) break;
    const email = users.done ? managed.head : managed.done ? users.head.email : compareEmails(users.head.email, managed.head) <= 0 ? users.head.email : managed.head;
    const rows: UserRow[] = [];
    while (!users.done && users.head.email === email) {
      rows.push(users.head);
      users.next();
      const f = users.fill();
      if (f) await f;
    }
    while (!managed.done && managed.head === email) {
      managed.next();
      const f = managed.fill();
      if (f) await f;
    }
    out.push(rows.length ? entryFor(org, email, rows) : { email });
    if (out.length >= pageSize) {
      yield out;
      out = [];
    }
  }
  if (out.length) yield out;
}
