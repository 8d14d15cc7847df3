// /Users (RFC 7644 §3.3–3.6).
import { Router, type Request, type Response } from 'express';
import { CHUNK_BYTES, streamListResponse } from './listStream.js';
import { matchesAtMostOne } from '../scim/filter.js';
import { DEFAULT_MAX_PATCH_OPERATIONS, applyPatch } from '../scim/patch.js';
import { normalizeResource, projectAttributes, serializeResource } from '../scim/resource.js';
import { parseListParams, searchRequest, type ListParams } from '../scim/listParams.js';
import { USER_RESOURCE, type ResourceTypeDef } from '../scim/schemas.js';
import type { Pool } from '../store/pool.js';
import { createUser, deleteUser, getUser, getUsersByIds, groupsOfUsers, listUserKeys, lookupUser, updateUser, type GroupRef, type UserRow } from '../store/users.js';
import { baseUrl, etagOf, metaOf, ifMatchVersions, sendPatchResult, sendResource, sendScim } from './respond.js';
import { auditOf } from './audit.js';
import type { HttpOptions } from './options.js';

const rt = USER_RESOURCE;

/** Whether a projection will include attribute `name` (so we only load what is returned). */
export function wants(p: Pick<ListParams, 'attributes' | 'excludedAttributes'>, name: string): boolean {
  const n = name.toLowerCase();
  const hit = (list: string[]) => list.some((a) => a.toLowerCase() === n || a.toLowerCase().startsWith(`${n}.`) || a.toLowerCase().endsWith(`:${n}`));
  if (p.attributes?.length) return hit(p.attributes);
  return !(p.excludedAttributes && hit(p.excludedAttributes));
}

export function projection(req: Request): Pick<ListParams, 'attributes' | 'excludedAttributes'> {
  const split = (v: unknown) => (typeof v === 'string' && v ? v.split(',').map((s) => s.trim().replace(/\[.*\]/, '')) : undefined);
  return { attributes: split(req.query.attributes), excludedAttributes: split(req.query.excludedAttributes) };
}

export async function renderUsers(pool: Pool, req: Request, opts: HttpOptions, rows: UserRow[], p: Pick<ListParams, 'attributes' | 'excludedAttributes'>) {
  const base = baseUrl(req, opts.publicUrl);
  // Groups come with the rows when the query included them (a user just created has none);
  // otherwise fetch them for the rows that need them.
  const missing = wants(p, 'groups') ? rows.filter((r) => !r.groups).map((r) => r.id) : [];
  const fetched = missing.length ? await groupsOfUsers(pool, missing) : new Map<string, GroupRef[]>();
  const groups = (row: UserRow) => row.groups ?? fetched.get(row.id) ?? [];
  return rows.map((row) => {
    const full = serializeResource(
      rt,
      row.resource,
      metaOf(row, `${base}/Users/${row.id}`),
      { groups: groups(row).map((g) => ({ value: g.value, display: g.display, $ref: `${base}/Groups/${g.value}`, type: 'direct' })) },
    );
    return projectAttributes(rt, full, p.attributes, p.excludedAttributes);
  });
}

/** GET /Users and POST /Users/.search: streamed in memory-bounded chunks (listStream.ts). */
export async function listUsersResponse(pool: Pool, req: Request, res: Response, opts: HttpOptions, p: ListParams, organizationId: string) {
  const withGroups = wants(p, 'groups');
  if (p.filter && matchesAtMostOne(p.filter)) {
    // A lookup of one user (userName eq, id eq): one query reads the page with its row. The
    // keys-first path exists to bound the memory of large pages; one row is its own bound.
    const page = await lookupUser(pool, organizationId, { ...p, filter: p.filter }, withGroups);
    const rendered = await renderUsers(pool, req, opts, page.rows, p);
    const keys = page.rows.map((r) => ({ id: r.id, createdAtKey: r.createdAtKey, weight: 0 }));
    await streamListResponse(req, res, p, { ...page, rows: keys }, async () => rendered as { id: string }[]);
    return;
  }
  // Keys and, for users of ordinary size, their rows in one statement (listUserKeys): a
  // chunk then reads only the rows that did not come with their keys.
  const page = await listUserKeys(pool, organizationId, p, withGroups, CHUNK_BYTES);
  const preloaded = new Map<string, UserRow>();
  for (const k of page.rows) if (k.resource != null) preloaded.set(k.id, k as UserRow);
  await streamListResponse(req, res, p, page, async (ids) => {
    const missing = ids.filter((id) => !preloaded.has(id));
    const rows = ids.flatMap((id) => preloaded.get(id) ?? []);
    if (missing.length) rows.push(...(await getUsersByIds(pool, organizationId, missing, withGroups)));
    return renderUsers(pool, req, opts, rows, p) as Promise<{ id: string }[]>;
  });
}

/** The PATCH engine's limits from the HTTP options. */
export const patchLimits = (opts: HttpOptions) => ({ maxOperations: opts.maxPatchOperations ?? DEFAULT_MAX_PATCH_OPERATIONS });

type ListHandler = (pool: Pool, req: Request, res: Response, opts: HttpOptions, p: ListParams, organizationId: string) => Promise<void>;

/** GET / (query parameters) and POST /.search (a SearchRequest body) of one resource type. */
export function listRoutes(r: Router, pool: Pool, opts: HttpOptions, type: ResourceTypeDef, list: ListHandler): void {
  r.get('/', async (req, res) => {
    const p = parseListParams(req.query as Record<string, unknown>, type, opts);
    await list(pool, req, res, opts, p, req.auth!.organizationId);
  });
  r.post('/.search', async (req, res) => {
    const p = parseListParams(searchRequest(req.body), type, opts);
    await list(pool, req, res, opts, p, req.auth!.organizationId);
  });
}

export function usersRouter(pool: Pool, opts: HttpOptions): Router {
  const r = Router({ mergeParams: true });
  const one = async (req: Request, row: UserRow) => (await renderUsers(pool, req, opts, [row], projection(req)))[0];
  listRoutes(r, pool, opts, rt, listUsersResponse);

  r.post('/', async (req, res) => {
    const resource = normalizeResource(rt, req.body, 'create');
    const { row } = await createUser(pool, req.auth!.organizationId, resource, auditOf(req));
    const body = await one(req, row);
    res.setHeader('Location', `${baseUrl(req, opts.publicUrl)}/Users/${row.id}`);
    sendScim(res, 201, body, etagOf(row.version));
  });

  r.get('/:id', async (req, res) => {
    const row = await getUser(pool, req.auth!.organizationId, req.params.id!, false, wants(projection(req), 'groups'));
    await sendResource(req, res, row.version, () => one(req, row));
  });

  r.put('/:id', async (req, res) => {
    const resource = normalizeResource(rt, req.body, 'replace');
    const row = await updateUser(pool, req.auth!.organizationId, req.params.id!, ifMatchVersions(req), (cur) =>
      JSON.stringify(cur.resource) === JSON.stringify(resource) ? undefined : resource,
    { ctx: auditOf(req), operation: 'User.replace' });
    sendScim(res, 200, await one(req, row), etagOf(row.version));
  });

  r.patch('/:id', async (req, res) => {
    const row = await updateUser(pool, req.auth!.organizationId, req.params.id!, ifMatchVersions(req), (cur) => {
      const result = applyPatch(rt, cur.resource, req.body, patchLimits(opts));
      return result.changed ? result.resource : undefined;
    }, { ctx: auditOf(req), operation: 'User.patch' });
    // A User is small: answer with it (see sendPatchResult for the vendors' guides).
    await sendPatchResult(req, res, etagOf(row.version), () => one(req, row), 'resource');
  });

  r.delete('/:id', async (req, res) => {
    await deleteUser(pool, req.auth!.organizationId, req.params.id!, ifMatchVersions(req), auditOf(req));
    res.status(204).end();
  });
  return r;
}
