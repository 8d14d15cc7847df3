// /ServiceProviderConfig, /ResourceTypes, /Schemas (RFC 7644 §4), root /.search (§3.4.3, rootSearch.ts).
import { Router } from 'express';
import { findResourceType, findSchema, resourceTypeDoc, schemaDoc, serviceProviderConfig } from '../scim/discovery.js';
import { notFound } from '../scim/errors.js';
import { ALL_SCHEMAS, LIST_RESPONSE_SCHEMA, RESOURCE_TYPES } from '../scim/schemas.js';
import type { Pool } from '../store/pool.js';
import { ScimError } from '../scim/errors.js';
import { baseUrl, sendScim } from './respond.js';
import { rootSearch } from './rootSearch.js';
import type { HttpOptions } from './options.js';

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

  r.post('/.search', (req, res) => rootSearch(pool, req, res, opts));

  r.all('/Bulk', () => {
    throw new ScimError(501, undefined, 'bulk operations are not supported (see bulk.supported in /ServiceProviderConfig)');
  });
  r.all('/Me', () => {
    throw new ScimError(501, undefined, '/Me is not supported: tokens belong to organizations, not users');
  });
  return r;
}
