// /ServiceProviderConfig, /ResourceTypes, /Schemas (RFC 7644 §4) and root /.search (§3.4.3).
import { Router } from 'express';
import { findResourceType, findSchema, resourceTypeDoc, schemaDoc, serviceProviderConfig } from '../scim/discovery.js';
import { notFound } from '../scim/errors.js';
import { parseListParams, searchRequest } from '../scim/listParams.js';
import { ALL_SCHEMAS, GROUP_RESOURCE, LIST_RESPONSE_SCHEMA, RESOURCE_TYPES, USER_RESOURCE } from '../scim/schemas.js';
import type { Pool } from '../store/pool.js';
import { ScimError } from '../scim/errors.js';
import { baseUrl, sendScim } from './respond.js';
import { listUsersResponse } from './users.js';
import { listGroupsResponse } from './groups.js';
import type { HttpOptions } from './app.js';

const list = (resources: unknown[]) => ({
  schemas: [LIST_RESPONSE_SCHEMA],
  totalResults: resources.length,
  itemsPerPage: resources.length,
  startIndex: 1,
  Resources: resources,
});

export function discoveryRouter(pool: Pool, opts: HttpOptions): Router {
  const r = Router({ mergeParams: true });
  const docOpts = (req: Parameters<typeof baseUrl>[0]) => ({ baseUrl: baseUrl(req, opts.publicUrl), maxResults: opts.maxResults, defaultCount: opts.defaultCount, maxPayloadBytes: opts.maxPayloadBytes });

  r.get('/ServiceProviderConfig', (req, res) => sendScim(res, 200, serviceProviderConfig(docOpts(req))));
  // The Microsoft collection asks for the SCIM 1.1 name.
  r.get('/serviceConfiguration', (req, res) => sendScim(res, 200, serviceProviderConfig(docOpts(req))));
  r.get('/ResourceTypes', (req, res) => sendScim(res, 200, list(RESOURCE_TYPES.map((rt) => resourceTypeDoc(rt, baseUrl(req, opts.publicUrl))))));
  r.get('/ResourceTypes/:name', (req, res) => {
    const rt = findResourceType(req.params.name!);
    if (!rt) throw notFound(`no resource type "${req.params.name}"; this server has User and Group`);
    sendScim(res, 200, resourceTypeDoc(rt, baseUrl(req, opts.publicUrl)));
  });
  r.get('/Schemas', (req, res) => sendScim(res, 200, list(ALL_SCHEMAS.map((s) => schemaDoc(s, baseUrl(req, opts.publicUrl))))));
  r.get('/Schemas/:id', (req, res) => {
    const s = findSchema(req.params.id!);
    if (!s) throw notFound(`no schema "${req.params.id}"`);
    sendScim(res, 200, schemaDoc(s, baseUrl(req, opts.publicUrl)));
  });

  // Root search over both resource types: users first, then groups, paged as one list.
  r.post('/.search', async (req, res) => {
    const body = searchRequest(req.body);
    const orgId = req.auth!.organizationId;
    const per = async (rt: typeof USER_RESOURCE) => {
      try {
        return parseListParams({ ...body, startIndex: 1, count: opts.maxResults }, rt, opts);
      } catch (err) {
        // An attribute only one resource type has: the other contributes no results.
        if (err instanceof ScimError && err.scimType === 'invalidFilter' && /unknown attribute/i.test(err.detail)) return undefined;
        throw err;
      }
    };
    const page = parseListParams(body, USER_RESOURCE, opts);
    if (page.cursor !== undefined) throw new ScimError(400, 'invalidValue', 'cursor paging is not supported on the root /.search; search /Users or /Groups');
    const [pu, pg] = [await per(USER_RESOURCE), await per(GROUP_RESOURCE)];
    if (!pu && !pg) throw new ScimError(400, 'invalidFilter', 'the filter names attributes neither Users nor Groups have');
    const users = pu ? ((await listUsersResponse(pool, req, opts, pu, orgId)).Resources as unknown[]) : [];
    const groups = pg ? ((await listGroupsResponse(pool, req, opts, pg, orgId)).Resources as unknown[]) : [];
    const all = [...users, ...groups];
    const slice = all.slice(page.startIndex - 1, page.startIndex - 1 + page.count);
    sendScim(res, 200, { schemas: [LIST_RESPONSE_SCHEMA], totalResults: all.length, itemsPerPage: slice.length, startIndex: page.startIndex, Resources: slice });
  });

  r.all('/Bulk', () => {
    throw new ScimError(501, undefined, 'bulk operations are not supported (see bulk.supported in /ServiceProviderConfig)');
  });
  r.all('/Me', () => {
    throw new ScimError(501, undefined, '/Me is not supported: tokens belong to organizations, not users');
  });
  return r;
}
