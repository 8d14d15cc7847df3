// POST /.search at the SCIM root (RFC 7644 §3.4.3): Users and Groups as one list, index paging.
import type { Request, Response } from 'express';
import { badRequest, ScimError } from '../scim/errors.js';
import type { FilterNode } from '../scim/filter.js';
import { parseListParams, scalar, searchRequest, type ListParams } from '../scim/listParams.js';
import { type AttrPath, resolvePath } from '../scim/paths.js';
import { GROUP_RESOURCE, LIST_RESPONSE_SCHEMA, type ResourceTypeDef, USER_RESOURCE } from '../scim/schemas.js';
import { getGroupsByIds } from '../store/groups.js';
import type { Pool } from '../store/pool.js';
import { searchRoot, type RootSearchPart } from '../store/rootSearch.js';
import { getUsersByIds } from '../store/users.js';
import type { HttpOptions } from './options.js';
import { renderGroups } from './groups.js';
import { sendScim } from './respond.js';
import { renderUsers, wants } from './users.js';

type Raw = Record<string, unknown>;

/** The SearchRequest without the members named (any case): what both resource types share. */
const without = (raw: Raw, names: string[]) => Object.fromEntries(Object.entries(raw).filter(([k]) => !names.includes(k.toLowerCase())));
const pick = (raw: Raw, name: string) => Object.entries(raw).find(([k]) => k.toLowerCase() === name)?.[1];

/**
 * The filter as one resource type reads it, or undefined when it names an attribute that type
 * does not have: that type contributes nothing (a Group-only filter such as
 * `members[value eq "…"]` finds Groups). Any other filter error is the client's 400.
 */
function filterFor(raw: Raw, rt: ResourceTypeDef, opts: HttpOptions): { filter?: FilterNode } | undefined {
  try {
    return { filter: parseListParams({ filter: pick(raw, 'filter') }, rt, opts).filter };
  } catch (err) {
    if (err instanceof ScimError && err.scimType === 'invalidFilter' && /unknown attribute/i.test(err.detail)) return undefined;
    throw err;
  }
}

/** The parts of the query per type, and whether a sortBy applies at all. */
function parts(raw: Raw, opts: HttpOptions): { users?: RootSearchPart; groups?: RootSearchPart; sorted: boolean } {
  const u = filterFor(raw, USER_RESOURCE, opts);
  const g = filterFor(raw, GROUP_RESOURCE, opts);
  if (!u && !g) throw badRequest('invalidFilter', 'the filter names attributes neither Users nor Groups have');
  const sortBy = scalar(raw, 'sortBy');
  if (sortBy === undefined || sortBy === '') return { users: u, groups: g, sorted: false };
  const su = resolvePath(USER_RESOURCE, String(sortBy));
  let sg = resolvePath(GROUP_RESOURCE, String(sortBy));
  if (!su && !sg) throw badRequest('invalidValue', `sortBy names an attribute neither Users nor Groups have: "${String(sortBy)}"`);
  // One sort column across both types: the same attribute must have the same type in both.
  if (su && sg && (su.sub ?? su.attribute).type !== (sg.sub ?? sg.attribute).type) sg = undefined;
  const withSort = (p: RootSearchPart | undefined, by: AttrPath | undefined) => (p ? { ...p, sortBy: by } : undefined);
  return { users: withSort(u, su), groups: withSort(g, sg), sorted: true };
}

/**
 * Answers the root search. Paging (startIndex, count), attributes and excludedAttributes are
 * read once for both types; only the page's rows are loaded, and Group members only for the
 * page's groups and only when the projection returns them.
 */
export async function rootSearch(pool: Pool, req: Request, res: Response, opts: HttpOptions): Promise<void> {
  const raw = searchRequest(req.body);
  const page: ListParams = parseListParams(without(raw, ['filter', 'sortby']), USER_RESOURCE, opts);
  if (page.cursor !== undefined) throw badRequest('invalidValue', 'cursor paging is not supported on the root /.search; search /Users or /Groups');
  const orgId = req.auth!.organizationId;
  const { total, hits } = await searchRoot(pool, orgId, { ...parts(raw, opts), sortOrder: page.sortOrder, startIndex: page.startIndex, count: page.count });
  const ids = (type: string) => hits.filter((h) => h.type === type).map((h) => h.id);
  const [users, groups] = await Promise.all([
    getUsersByIds(pool, orgId, ids('User'), wants(page, 'groups')).then((rows) => renderUsers(pool, req, opts, rows, page)),
    getGroupsByIds(pool, orgId, ids('Group')).then((rows) => renderGroups(pool, req, opts, rows, page)),
  ]);
  const byId = new Map([...users, ...groups].map((r) => [r.id as string, r]));
  const resources = hits.map((h) => byId.get(h.id)).filter((r) => r !== undefined);
  sendScim(res, 200, { schemas: [LIST_RESPONSE_SCHEMA], totalResults: total, itemsPerPage: resources.length, startIndex: page.startIndex, Resources: resources });
}
