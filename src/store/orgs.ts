// Organizations: one per ScimConfig (spec.organization is the slug in /scim/v2/{slug}/).
// Who declares an organization (its owner) and its deletion ("Delete Configuration") live
// here, generic over the owner, so that `scimsync start --config` (owner kind 'file') and the
// Kubernetes operator (owner kind 'kubernetes') share one set of rules.
// Schema: migrations/1796100000000_organization_owner.sql.
import type { ScimConfigSpec } from '../orgs/scimConfig.js';
import { withTransaction, type Pool, type PoolClient, type Queryable } from './pool.js';
import { recordAudit, type AuditActor } from './audit.js';

export type OwnerKind = 'file' | 'kubernetes';

/** Who declares an organization. */
export interface Owner {
  kind: OwnerKind;
  /**
   * file: the `--config` path given to `scimsync start` (BUILTIN_DEMO_REF for the demo
   * organization of a start without --config); kubernetes: "namespace/name" of the ScimConfig.
   */
  ref: string;
  /** kubernetes: the ScimConfig's metadata.uid; null for files. */
  uid?: string | null;
}

/** owner_ref of the `demo` organization that `scimsync start` declares when --config is absent. */
export const BUILTIN_DEMO_REF = 'builtin:demo';

export interface Organization {
  id: string;
  slug: string;
  spec: ScimConfigSpec;
  /** null: created before ownership was recorded, or by upsertOrganization (tests, benchmarks). */
  owner: Owner | null;
  /** ISO 8601 time of deletion; null while the organization serves. */
  deletedAt: string | null;
}

interface OrganizationRow {
  id: string;
  slug: string;
  spec: ScimConfigSpec;
  owner_kind: OwnerKind | null;
  owner_ref: string | null;
  owner_uid: string | null;
  deleted_at: string | null;
}

const COLUMNS = `id, slug, spec, owner_kind, owner_ref, owner_uid, to_json(deleted_at)#>>'{}' as deleted_at`;

function organizationOf(row: OrganizationRow): Organization {
  return {
    id: row.id,
    slug: row.slug,
    spec: row.spec,
    owner: row.owner_kind ? { kind: row.owner_kind, ref: row.owner_ref ?? '', uid: row.owner_uid } : null,
    deletedAt: row.deleted_at,
  };
}

/** "file /etc/scimsync/orgs.yaml", "Kubernetes ScimConfig team-a/acme": an owner as people read it. */
export function describeOwner(owner: Owner | null): string {
  if (!owner) return 'no recorded owner';
  if (owner.kind === 'kubernetes') return `the Kubernetes ScimConfig ${owner.ref}${owner.uid ? ` (uid ${owner.uid})` : ''}`;
  return owner.ref === BUILTIN_DEMO_REF ? 'the built-in demo (scimsync start without --config)' : `the file ${owner.ref}`;
}

/**
 * Whether a declaration by `claimant` may take over an organization recorded as `current`'s.
 * All files of a deployment are one declaration (the set given to `scimsync start --config`;
 * replicas share it and a file may be renamed), so any 'file' owner is the same owner. A
 * Kubernetes owner is its namespace/name: a ScimConfig deleted and created again under the
 * same name (new uid) is the same owner, two ScimConfigs naming one organization are not.
 */
export function sameOwner(current: Owner, claimant: Owner): boolean {
  if (current.kind !== claimant.kind) return false;
  return current.kind === 'file' || current.ref === claimant.ref;
}

/** Creates the organization or updates its spec, leaving owner and deleted_at alone (tests, benchmarks). */
export async function upsertOrganization(db: Queryable, spec: ScimConfigSpec): Promise<Organization> {
  const { rows } = await db.query<OrganizationRow>(
    `insert into organizations (slug, spec) values ($1::text, $2::jsonb)
     on conflict (slug) do update set spec = excluded.spec, updated_at = now()
     returning ${COLUMNS}`,
    [spec.organization, JSON.stringify(spec)],
  );
  return organizationOf(rows[0]!);
}

/** The organization by slug, deleted ones included (check deletedAt). */
export async function findOrganization(db: Queryable, slug: string): Promise<Organization | undefined> {
  const { rows } = await db.query<OrganizationRow>(`select ${COLUMNS} from organizations where slug = $1::text`, [slug]);
  return rows[0] ? organizationOf(rows[0]) : undefined;
}

export interface OrganizationListing extends Organization {
  /** Tokens neither revoked nor expired. */
  liveTokens: number;
}

/** Every organization by slug, deleted ones included. */
export async function listOrganizations(db: Queryable): Promise<OrganizationListing[]> {
  const { rows } = await db.query<OrganizationRow & { live_tokens: number }>(
    `select ${COLUMNS},
            (select count(*)::int from scim_tokens t
              where t.organization_id = o.id and t.revoked_at is null and (t.expires_at is null or t.expires_at > now())) as live_tokens
       from organizations o order by slug`,
  );
  return rows.map((r) => ({ ...organizationOf(r), liveTokens: r.live_tokens }));
}

export type ClaimResult =
  /** The claimant owns it now, with this spec; restored: it had been deleted (its old tokens stay revoked). */
  | { status: 'claimed'; organization: Organization; created: boolean; restored: boolean }
  /** Another owner declares it (organization.owner); nothing was written. */
  | { status: 'conflict'; organization: Organization };

/**
 * Declares an organization on behalf of `owner` inside the caller's transaction: creates it,
 * or takes it over when it has no owner, the same owner (sameOwner) or has been deleted, and
 * stores `spec`. A live organization of another owner is a conflict and is left untouched.
 * Declaring a deleted organization clears deleted_at; its revoked tokens stay revoked.
 */
export async function claimOrganizationIn(client: PoolClient, spec: ScimConfigSpec, owner: Owner): Promise<ClaimResult> {
  const inserted = await client.query(`insert into organizations (slug, spec) values ($1::text, '{}'::jsonb) on conflict (slug) do nothing`, [spec.organization]);
  const { rows } = await client.query<OrganizationRow>(`select ${COLUMNS} from organizations where slug = $1::text for update`, [spec.organization]);
  const current = organizationOf(rows[0]!);
  if (!current.deletedAt && current.owner && !sameOwner(current.owner, owner)) return { status: 'conflict', organization: current };
  const { rows: updated } = await client.query<OrganizationRow>(
    `update organizations
        set spec = $2::jsonb, owner_kind = $3::text, owner_ref = $4::text, owner_uid = $5::text, deleted_at = null, updated_at = now()
      where id = $1::uuid
      returning ${COLUMNS}`,
    [current.id, JSON.stringify(spec), owner.kind, owner.ref, owner.uid ?? null],
  );
  const restored = current.deletedAt !== null;
  if (restored || newOwnerObject(current.owner, owner)) await resetSyncState(client, current.id);
  return { status: 'claimed', organization: organizationOf(updated[0]!), created: (inserted.rowCount ?? 0) > 0, restored };
}

/** A different owning object: another kind, or the same Kubernetes name with a new uid (deleted and created again). */
const newOwnerObject = (before: Owner | null, after: Owner) =>
  before !== null && (before.kind !== after.kind || (before.uid ?? null) !== (after.uid ?? null));

/**
 * Forgets the reconciler's last full resync (time, plan, error) and makes the next one due
 * now: a restored organization, or one claimed by a new object, has not been synced by its
 * new declaration, so its status starts again at "no full resync yet" (ScimConfig Synced
 * Unknown AwaitingFirstSync) instead of reporting the previous owner's result.
 */
async function resetSyncState(client: PoolClient, organizationId: string): Promise<void> {
  await client.query(
    `update reconcile_status
        set last_full_sync_at = null, last_full_sync_seconds = null, member_count = null, last_plan = null, last_error = null,
            next_resync_at = clock_timestamp()
      where organization_id = $1::uuid`,
    [organizationId],
  );
}

/** claimOrganizationIn in a transaction of its own. */
export async function claimOrganization(pool: Pool, spec: ScimConfigSpec, owner: Owner): Promise<ClaimResult> {
  return withTransaction(pool, (client) => claimOrganizationIn(client, spec, owner));
}

export type DeleteResult =
  | {
      status: 'deleted';
      /** As it is now (deletedAt set). */
      organization: Organization;
      /** It was deleted before this call; deletedAt is the first deletion's time. */
      alreadyDeleted: boolean;
      /** Tokens that were live and are revoked now. */
      tokensRevoked: number;
      /** reconcile_queue items dropped: nothing of this organization is provisioned any more. */
      queueItemsDropped: number;
      /** Who deleted it, as given (for the caller's log line). */
      actor: string;
    }
  | { status: 'not-found' }
  /** opts.allow refused the organization's owner; nothing was written. */
  | { status: 'refused'; organization: Organization };

export interface DeleteOptions {
  /** Deletes only when this returns true for the current owner (e.g. the operator: only its own). */
  allow?: (owner: Owner | null) => boolean;
  /** Records organization.delete for this actor in the same transaction (not again for an organization already deleted). */
  audit?: AuditActor;
}

/**
 * Deletes an organization inside the caller's transaction ("Delete Configuration"): sets
 * deleted_at (kept when already set), revokes every live token, drops its reconcile_queue
 * items. From the next request on its SCIM endpoint answers 401 (authenticateToken refuses
 * deleted organizations) and the reconciler no longer provisions it. The rows themselves stay:
 * users, groups and the application's memberships are left as they are, so that removing a
 * file entry by mistake revokes nobody's access in the application; declaring it again restores it.
 * Idempotent: a second call revokes nothing more.
 */
export async function deleteOrganizationIn(client: PoolClient, slug: string, actor: string, opts: DeleteOptions = {}): Promise<DeleteResult> {
  const { rows } = await client.query<OrganizationRow>(`select ${COLUMNS} from organizations where slug = $1::text for update`, [slug]);
  if (!rows[0]) return { status: 'not-found' };
  const current = organizationOf(rows[0]);
  if (opts.allow && !opts.allow(current.owner)) return { status: 'refused', organization: current };
  const { rows: updated } = await client.query<OrganizationRow>(
    `update organizations set deleted_at = coalesce(deleted_at, now()), updated_at = now() where id = $1::uuid returning ${COLUMNS}`,
    [current.id],
  );
  const tokens = await client.query(`update scim_tokens set revoked_at = now() where organization_id = $1::uuid and revoked_at is null`, [current.id]);
  const queue = await client.query(`delete from reconcile_queue where organization_id = $1::uuid`, [current.id]);
  if (opts.audit && current.deletedAt === null) {
    await recordAudit(client, { organizationId: current.id, organization: current.slug, actor: opts.audit.actor, operation: 'organization.delete', resourceId: current.slug });
  }
  return {
    status: 'deleted',
    organization: organizationOf(updated[0]!),
    alreadyDeleted: current.deletedAt !== null,
    tokensRevoked: tokens.rowCount ?? 0,
    queueItemsDropped: queue.rowCount ?? 0,
    actor,
  };
}

/** deleteOrganizationIn in one transaction of its own. */
export async function deleteOrganization(pool: Pool, slug: string, actor: string, opts: DeleteOptions = {}): Promise<DeleteResult> {
  return withTransaction(pool, (client) => deleteOrganizationIn(client, slug, actor, opts));
}

export type FileDeclarationResult =
  | { status: 'applied'; claimed: Extract<ClaimResult, { status: 'claimed' }>[]; deleted: Extract<DeleteResult, { status: 'deleted' }>[] }
  /** Organizations another owner declares; nothing was written. */
  | { status: 'conflict'; conflicts: Organization[] };

// Serialises file declarations of replicas starting together (pg_advisory_xact_lock key).
const FILE_DECLARATION_LOCK = 0x5c1a_f11e;

/**
 * Applies the organizations declared by files, in one transaction: claims each one for
 * `owner`; when `complete` (the files given to `start --config` are the whole declaration),
 * deletes every live organization owned by a file, or with no recorded owner, that they no
 * longer declare. No owner means created before ownership was recorded, when `scimsync start`
 * was the only way to create one. Any conflict rolls everything back.
 */
export async function applyFileDeclarations(pool: Pool, specs: ScimConfigSpec[], owner: Owner, complete: boolean): Promise<FileDeclarationResult> {
  const conflicts: Organization[] = [];
  class Conflict extends Error {}
  try {
    return await withTransaction(pool, async (client): Promise<FileDeclarationResult> => {
      await client.query('select pg_advisory_xact_lock($1::bigint)', [FILE_DECLARATION_LOCK]);
      const claimed: Extract<ClaimResult, { status: 'claimed' }>[] = [];
      // Slug order: concurrent transactions lock organization rows in the same order.
      for (const spec of [...specs].sort((a, b) => (a.organization < b.organization ? -1 : a.organization > b.organization ? 1 : 0))) {
        const r = await claimOrganizationIn(client, spec, owner);
        if (r.status === 'conflict') conflicts.push(r.organization);
        else claimed.push(r);
      }
      if (conflicts.length) throw new Conflict();
      const deleted: Extract<DeleteResult, { status: 'deleted' }>[] = [];
      if (complete) {
        const { rows } = await client.query<{ slug: string }>(
          `select slug from organizations
            where deleted_at is null and (owner_kind = 'file' or owner_kind is null) and slug <> all($1::text[])
            order by slug`,
          [specs.map((s) => s.organization)],
        );
        for (const { slug } of rows) {
          const r = await deleteOrganizationIn(client, slug, `scimsync start: not declared in ${owner.ref}`, { audit: { actor: 'cli' } });
          if (r.status === 'deleted') deleted.push(r);
        }
      }
      return { status: 'applied', claimed, deleted };
    });
  } catch (e) {
    if (e instanceof Conflict) return { status: 'conflict', conflicts };
    throw e;
  }
}
