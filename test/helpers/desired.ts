// Writes desired state the way the SCIM store does (row + markForReconcile in one
// transaction), for reconciler tests that do not need the HTTP ingress.
import { markForReconcile } from '../../src/store/reconcileQueue.js';
import { withTransaction, type Pool } from '../../src/store/pool.js';

export async function createOrg(pool: Pool, slug: string, spec: Record<string, unknown> = {}): Promise<string> {
  const { rows } = await pool.query(`insert into organizations (slug, spec) values ($1, $2) returning id`, [slug, JSON.stringify({ organization: slug, ...spec })]);
  return rows[0].id;
}

export async function setSpec(pool: Pool, orgId: string, slug: string, spec: Record<string, unknown>): Promise<void> {
  await withTransaction(pool, async (c) => {
    await c.query(`update organizations set spec = $2 where id = $1`, [orgId, JSON.stringify({ organization: slug, ...spec })]);
    await markForReconcile(c, orgId);
  });
}

export async function addUser(pool: Pool, orgId: string, userName: string, opts: { active?: boolean; externalId?: string; displayName?: string } = {}): Promise<string> {
  return withTransaction(pool, async (c) => {
    const { rows } = await c.query(
      `insert into scim_users (organization_id, user_name, external_id, display_name, active, resource) values ($1, $2, $3, $4, $5, $6) returning id`,
      [orgId, userName, opts.externalId ?? null, opts.displayName ?? null, opts.active ?? true, JSON.stringify({ userName })],
    );
    await markForReconcile(c, orgId, [rows[0].id]);
    return rows[0].id as string;
  });
}

/** Adds many users in one transaction marking the whole organization (as a bulk import would). */
export async function addUsers(pool: Pool, orgId: string, userNames: string[]): Promise<void> {
  await withTransaction(pool, async (c) => {
    await c.query(
      `insert into scim_users (organization_id, user_name, resource) select $1, u, jsonb_build_object('userName', u) from unnest($2::text[]) u`,
      [orgId, userNames],
    );
    await markForReconcile(c, orgId);
  });
}

export async function updateUser(pool: Pool, orgId: string, ids: string | string[], set: { active?: boolean; userName?: string; deleted?: boolean }): Promise<void> {
  const list = Array.isArray(ids) ? ids : [ids];
  await withTransaction(pool, async (c) => {
    await c.query(
      `update scim_users set active = coalesce($2, active), user_name = coalesce($3, user_name),
              deleted_at = case when $4::boolean then now() else deleted_at end, last_modified = now()
        where id = any($1::uuid[])`,
      [list, set.active ?? null, set.userName ?? null, set.deleted ?? false],
    );
    await markForReconcile(c, orgId, list);
  });
}

export async function addGroup(pool: Pool, orgId: string, displayName: string, externalId?: string): Promise<string> {
  const { rows } = await pool.query(`insert into scim_groups (organization_id, display_name, external_id) values ($1, $2, $3) returning id`, [orgId, displayName, externalId ?? null]);
  return rows[0].id;
}

export async function addToGroup(pool: Pool, orgId: string, groupId: string, memberId: string, type: 'User' | 'Group' = 'User'): Promise<void> {
  await withTransaction(pool, async (c) => {
    await c.query(`insert into scim_group_members (group_id, member_id, member_type, organization_id) values ($1, $2, $3, $4)`, [groupId, memberId, type, orgId]);
    if (type === 'User') await markForReconcile(c, orgId, [memberId]);
    else await markForReconcile(c, orgId);
  });
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Adds users in one transaction with one per-user item each (as N single SCIM writes would). */
export async function addUsersEach(pool: Pool, orgId: string, userNames: string[]): Promise<string[]> {
  return withTransaction(pool, async (c) => {
    const { rows } = await c.query(
      `insert into scim_users (organization_id, user_name, resource) select $1, u, jsonb_build_object('userName', u) from unnest($2::text[]) u returning id`,
      [orgId, userNames],
    );
    const ids = rows.map((r) => r.id as string);
    await markForReconcile(c, orgId, ids);
    return ids;
  });
}
