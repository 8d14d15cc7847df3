// /Groups (RFC 7644 §3.3–3.6). Members are read only when the response includes them.
import { Router, type Request, type Response } from 'express';
import { streamListResponse } from './listStream.js';
import { applyPatch } from '../scim/patch.js';
import { extractMembers, normalizeResource, projectAttributes, serializeResource } from '../scim/resource.js';
import { type ListParams } from '../scim/listParams.js';
import { GROUP_RESOURCE } from '../scim/schemas.js';
import type { Pool } from '../store/pool.js';
import { createGroup, deleteGroup, getGroup, getGroupsByIds, listGroupKeys, membersOfGroups, updateGroup, type GroupRow } from '../store/groups.js';
import { baseUrl, etagOf, metaOf, ifMatchVersions, sendPatchResult, sendResource, sendScim } from './respond.js';
import { auditOf } from './audit.js';
import { listRoutes, patchLimits, projection, wants } from './users.js';
import type { HttpOptions } from './options.js';
import { orgLabel, scimUnknownMembersTotal } from '../metrics.js';

const rt = GROUP_RESOURCE;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Counts and logs the member values a write skipped (GroupRow.unknownMembers): the request
 * succeeded for the known members, and the operator sees what the IdP referred to. Only
 * uuid-shaped values are logged: anything else is client text and may be an email address.
 */
function reportUnknownMembers(req: Request, row: GroupRow): void {
  const unknown = row.unknownMembers ?? [];
  if (!unknown.length) return;
  scimUnknownMembersTotal.inc({ organization: orgLabel(req.auth!.organization) }, unknown.length);
  const ids = unknown.filter((v) => UUID.test(v));
  req.log.warn(
    { groupId: row.id, unknown: unknown.length, ids: ids.slice(0, 20), notUuids: unknown.length - ids.length },
    'skipped group members that are not Users or Groups of this organization',
  );
}

export async function renderGroups(pool: Pool, req: Request, opts: HttpOptions, rows: GroupRow[], p: Pick<ListParams, 'attributes' | 'excludedAttributes'>) {
  const base = baseUrl(req, opts.publicUrl);
  const members = wants(p, 'members') ? await membersOfGroups(pool, rows.map((r) => r.id)) : undefined;
  return rows.map((row) => {
    const extras = members
      ? { members: (members.get(row.id) ?? []).map((m) => ({ value: m.value, display: m.display ?? undefined, $ref: `${base}/${m.type}s/${m.value}`, type: m.type })) }
      : {};
    const full = serializeResource(
      rt,
      row.resource,
      metaOf(row, `${base}/Groups/${row.id}`),
      extras,
    );
    return projectAttributes(rt, full, p.attributes, p.excludedAttributes);
  });
}

/** GET /Groups and POST /Groups/.search: streamed in memory-bounded chunks (listStream.ts). */
export async function listGroupsResponse(pool: Pool, req: Request, res: Response, opts: HttpOptions, p: ListParams, organizationId: string) {
  const page = await listGroupKeys(pool, organizationId, p, wants(p, 'members'));
  await streamListResponse(req, res, p, page, async (ids) =>
    renderGroups(pool, req, opts, await getGroupsByIds(pool, organizationId, ids), p) as Promise<{ id: string }[]>,
  );
}

export function groupsRouter(pool: Pool, opts: HttpOptions): Router {
  const r = Router({ mergeParams: true });
  const one = async (req: Request, row: GroupRow) => (await renderGroups(pool, req, opts, [row], projection(req)))[0];

  listRoutes(r, pool, opts, rt, listGroupsResponse);

  r.post('/', async (req, res) => {
    const resource = normalizeResource(rt, req.body, 'create');
    const row = await createGroup(pool, req.auth!.organizationId, resource, extractMembers(req.body), auditOf(req));
    reportUnknownMembers(req, row);
    res.setHeader('Location', `${baseUrl(req, opts.publicUrl)}/Groups/${row.id}`);
    sendScim(res, 201, await one(req, row), etagOf(row.version));
  });

  r.get('/:id', async (req, res) => {
    const row = await getGroup(pool, req.auth!.organizationId, req.params.id!);
    await sendResource(req, res, row.version, () => one(req, row));
  });

  r.put('/:id', async (req, res) => {
    const resource = normalizeResource(rt, req.body, 'replace');
    const members = extractMembers(req.body);
    const row = await updateGroup(pool, req.auth!.organizationId, req.params.id!, ifMatchVersions(req), () => ({
      resource,
      members: { replaceAll: members, add: [], remove: [] },
    }), { ctx: auditOf(req), operation: 'Group.replace' });
    reportUnknownMembers(req, row);
    sendScim(res, 200, await one(req, row), etagOf(row.version));
  });

  r.patch('/:id', async (req, res) => {
    const row = await updateGroup(pool, req.auth!.organizationId, req.params.id!, ifMatchVersions(req), (cur) => {
      const result = applyPatch(rt, cur.resource, req.body, patchLimits(opts));
      return { resource: result.changed ? result.resource : undefined, members: result.members };
    }, { ctx: auditOf(req), operation: 'Group.patch' });
    reportUnknownMembers(req, row);
    // A Group's body carries its whole member list (megabytes for a large group) and a
    // membership PATCH touches a few rows of it: no body unless the request asks for one.
    await sendPatchResult(req, res, etagOf(row.version), () => one(req, row), 'noContent');
  });

  r.delete('/:id', async (req, res) => {
    await deleteGroup(pool, req.auth!.organizationId, req.params.id!, ifMatchVersions(req), auditOf(req));
    res.status(204).end();
  });
  return r;
}
