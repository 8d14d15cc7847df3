// POST /.search at the SCIM root (RFC 7644 §3.4.3): Users and Groups as one result list. One
// query pages over the ids of both types (filter, sort and offset in SQL), so the cost follows
// `count`: only the page's rows are then loaded and rendered, never a maximum page of each
// type with all their members (which took 20.7 s and +588 MB beside large groups, issue 7).
import type { FilterNode } from '../scim/filter.js';
import type { AttrPath } from '../scim/paths.js';
import { filterToSql, GROUPS_SQL, sortExpression, USERS_SQL, type SqlTarget } from './filterSql.js';
import type { Queryable } from './pool.js';

/** One resource type's part: absent when the filter names an attribute the type does not have. */
export interface RootSearchPart {
  filter?: FilterNode;
  /** The sort attribute as this type defines it; undefined when it has none (its rows sort last). */
  sortBy?: AttrPath;
}

export interface RootSearchQuery {
  users?: RootSearchPart;
  groups?: RootSearchPart;
  /** Whether sortBy was given at all (then rows order by it, across both types). */
  sorted: boolean;
  sortOrder: 'ascending' | 'descending';
  /** 1-based (RFC 7644 §3.4.2.4). */
  startIndex: number;
  count: number;
}

export interface RootSearchPage {
  /** Matching resources of both types (exact). */
  total: number;
  /** The page, in result order. */
  hits: { type: 'User' | 'Group'; id: string }[];
}

interface Branch {
  rank: number;
  type: 'User' | 'Group';
  target: SqlTarget;
  from: string;
  live: string;
}

const BRANCHES: Branch[] = [
  { rank: 1, type: 'User', target: USERS_SQL, from: 'scim_users u', live: 'u.deleted_at is null' },
  { rank: 2, type: 'Group', target: GROUPS_SQL, from: 'scim_groups g', live: 'true' },
];

/**
 * Pages over Users and Groups together. Without sortBy, Users come first, then Groups, each in
 * creation order; with sortBy, both interleave by the attribute (types without it last), ties
 * Users first, then creation order. Returns the total and the page's (type, id) pairs; the
 * caller loads those rows. Throws ScimError 400 for what cannot be filtered or sorted.
 */
export async function searchRoot(db: Queryable, organizationId: string, q: RootSearchQuery): Promise<RootSearchPage> {
  const params: unknown[] = [organizationId];
  const dir = q.sortOrder === 'descending' ? 'desc' : 'asc';
  const selects: string[] = [];
  const counts: string[] = [];
  for (const b of BRANCHES) {
    const part = b.type === 'User' ? q.users : q.groups;
    if (!part) continue;
    const a = b.target.alias;
    let where = `${a}.organization_id = $1::uuid and ${b.live}`;
    if (part.filter) where += ` and (${filterToSql(part.filter, b.target, params)})`;
    const key = q.sorted ? (part.sortBy ? sortExpression(part.sortBy, b.target) : 'null') : 'null::text';
    selects.push(`select ${b.rank} as t, ${a}.id, ${a}.created_at, ${key} as k from ${b.from} where ${where}`);
    counts.push(`(select count(*) from ${b.from} where ${where})`);
  }
  if (!selects.length) return { total: 0, hits: [] };
  const countSql = `select ${counts.join(' + ')} as total`;
  const countParams = [...params];
  const countAll = async () => Number((await db.query<{ total: string }>(countSql, countParams)).rows[0]?.total ?? 0);
  if (q.count === 0) return { total: await countAll(), hits: [] };

  params.push(q.startIndex - 1, q.count);
  const order = `${q.sorted ? `k ${dir} nulls last, ` : ''}t, created_at ${dir}, id ${dir}`;
  const { rows } = await db.query<{ t: number; id: string }>(
    `select t, id::text as id from (${selects.join(' union all ')}) hits
      order by ${order} offset $${params.length - 1}::bigint limit $${params.length}::int`,
    params,
  );
  const hits = rows.map((r) => ({ type: r.t === 1 ? ('User' as const) : ('Group' as const), id: r.id }));
  // A short page that is not empty ends the result: its position gives the total (as listRows).
  const total = hits.length > 0 && hits.length < q.count ? q.startIndex - 1 + hits.length : q.startIndex === 1 && !hits.length ? 0 : await countAll();
  return { total, hits };
}
