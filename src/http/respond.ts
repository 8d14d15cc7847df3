// Response helpers: SCIM media type, ETags (RFC 7644 §3.14) and resource locations.
import type { Request, Response } from 'express';
import { preconditionFailed } from '../scim/errors.js';

/**
 * RFC 7644 §8.1: "application/scim+json", exactly. Some clients compare the header literally,
 * and JSON is UTF-8 by definition (RFC 8259 §8.1), so no charset parameter is sent.
 */
export const SCIM_CONTENT_TYPE = 'application/scim+json';

export const etagOf = (version: string) => `W/"${version}"`;

/** meta (RFC 7643 §3.1) of a stored row, served at `location`. */
export const metaOf = (row: { id: string; created: string; lastModified: string; version: string }, location: string) => ({
  id: row.id,
  created: row.created,
  lastModified: row.lastModified,
  location,
  version: etagOf(row.version),
});

/**
 * Writes a JSON body as application/scim+json. A Buffer, not a string: express's res.send
 * appends "; charset=utf-8" to the Content-Type of every string body.
 */
export function sendScimJson(res: Response, status: number, body: unknown): void {
  res.status(status).setHeader('Content-Type', SCIM_CONTENT_TYPE);
  res.send(Buffer.from(JSON.stringify(body), 'utf8'));
}

export function sendScim(res: Response, status: number, body: unknown, etag?: string): void {
  if (etag) res.setHeader('ETag', etag);
  sendScimJson(res, status, body);
}

/** The versions an If-Match header accepts, or undefined when any version will do. */
export function ifMatchVersions(req: Request): string[] | undefined {
  const header = req.get('if-match');
  if (!header || header.trim() === '*') return undefined;
  const versions = header.split(',').map((t) => /^\s*(?:W\/)?"([^"]*)"\s*$/.exec(t)?.[1]);
  if (versions.some((v) => v === undefined)) throw preconditionFailed(`If-Match header "${header}" is not a list of entity tags`);
  return versions as string[];
}

/** True when the If-None-Match header names the current version (→ 304 on GET). */
export function ifNoneMatchHits(req: Request, version: string): boolean {
  const header = req.get('if-none-match');
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => /^\s*(?:W\/)?"([^"]*)"\s*$/.exec(t)?.[1] === version);
}

/**
 * SCIM base URL of the request's organization: PUBLIC_URL, else the root src/http/publicUrl.ts
 * chose for this request (never an arbitrary Host header).
 */
export function baseUrl(req: Request, publicUrl: string | undefined): string {
  const root = publicUrl ? publicUrl.replace(/\/$/, '') : (req.publicRoot ?? `http://${req.socket.localAddress}:${req.socket.localPort}`);
  return `${root}/scim/v2/${req.params.org}`;
}

/** GET of one resource: 304 when If-None-Match names its version, else 200 with the body. */
export async function sendResource(req: Request, res: Response, version: string, body: () => Promise<unknown>): Promise<void> {
  if (ifNoneMatchHits(req, version)) {
    res.setHeader('ETag', etagOf(version));
    res.status(304).end();
    return;
  }
  sendScim(res, 200, await body(), etagOf(version));
}

/**
 * The answer to a successful PATCH (RFC 7644 §3.5.2): "200 OK and the entire resource …
 * subject to the attributes query parameter", or 204 No Content. The choice follows the
 * resource and the request, never the client:
 * - `attributes` or `excludedAttributes` in the query: 200 with the projected resource (the
 *   request asks for a body, and §3.9 applies the parameters to PATCH responses);
 * - otherwise `unasked`: 'resource' (200 with it) for Users, 'noContent' (204) for Groups.
 * Okta's guide, "Okta and SCIM Version 2.0"
 * (https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20), says the answer to its
 * User PATCH "needs to be the updated User object", shows a Group PATCH answered with
 * "members": null ("Okta doesn't require the list of users"), and allows 204 for both.
 * Microsoft's "Tutorial: Develop and plan provisioning for a SCIM endpoint"
 * (https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups):
 * "It isn't necessary to include the entire resource in the PATCH response", shows its User
 * PATCHes answered 200 with the User, and: "Update to the group PATCH request should yield an
 * HTTP 204 No Content in the response. Returning a body with a list of all the members isn't
 * advisable."
 * Either status carries the new ETag. docs/scim.md, "PATCH"; the Microsoft collection's two
 * 204 expectations for User PATCH are listed in conformance/expected-failures.txt.
 */
export async function sendPatchResult(req: Request, res: Response, etag: string, body: () => Promise<unknown>, unasked: 'resource' | 'noContent'): Promise<void> {
  const asked = req.query.attributes !== undefined || req.query.excludedAttributes !== undefined;
  if (asked || unasked === 'resource') {
    sendScim(res, 200, await body(), etag);
    return;
  }
  res.setHeader('ETag', etag);
  res.status(204).end();
}
