// Organizations: one per ScimConfig (spec.organization is the slug in /scim/v2/{slug}/).
import type { ScimConfigSpec } from '../orgs/scimConfig.js';
import type { Queryable } from './pool.js';

export interface Organization {
  id: string;
  slug: string;
  spec: ScimConfigSpec;
}

/** Creates the organization or updates its spec; returns it. */
export async function upsertOrganization(db: Queryable, spec: ScimConfigSpec): Promise<Organization> {
  const { rows } = await db.query<Organization>(
    `insert into organizations (slug, spec) values ($1::text, $2::jsonb)
     on conflict (slug) do update set spec = excluded.spec, updated_at = now()
     returning id, slug, spec`,
    [spec.organization, JSON.stringify(spec)],
  );
  return rows[0]!;
}

export async function findOrganization(db: Queryable, slug: string): Promise<Organization | undefined> {
  const { rows } = await db.query<Organization>('select id, slug, spec from organizations where slug = $1::text', [slug]);
  return rows[0];
}

export async function listOrganizations(db: Queryable): Promise<Organization[]> {
  const { rows } = await db.query<Organization>('select id, slug, spec from organizations order by slug');
  return rows;
}
