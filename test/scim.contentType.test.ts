// RFC 7644 §8.1: every SCIM response carries exactly "application/scim+json" — successes,
// protocol errors, 401s, 404s for unknown routes, 413s and JSON parse errors alike. Some
// clients compare the header literally, so "; charset=utf-8" is a failure. Real HTTP, one
// request per route kind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { casePath, startTestServer, type ScimRequestCase, type TestServer } from './helpers/server.js';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
let s: TestServer;
const ids: Record<string, string> = {};

beforeAll(async () => {
  s = await startTestServer({ org: 'ctype', maxPayloadBytes: 4096 });
  ids.user = (await s.scim('/Users', { method: 'POST', body: { userName: 'ct@example.com' } })).body.id;
  ids.group = (await s.scim('/Groups', { method: 'POST', body: { displayName: 'CT' } })).body.id;
});
afterAll(async () => { await s?.close(); });

interface Case extends ScimRequestCase {
  headers?: Record<string, string>;
  status: number;
}

const cases: Case[] = [
  { name: 'list', path: '/Users', status: 200 },
  { name: 'list with filter', path: '/Users?filter=userName+eq+%22ct%40example.com%22', status: 200 },
  { name: 'create', method: 'POST', path: '/Users', body: { userName: 'ct2@example.com' }, status: 201 },
  { name: 'get', path: () => `/Users/${ids.user}`, status: 200 },
  { name: 'replace', method: 'PUT', path: () => `/Users/${ids.user}`, body: { userName: 'ct@example.com', title: 'x' }, status: 200 },
  { name: 'patch answering with the resource', method: 'PATCH', path: () => `/Groups/${ids.group}?attributes=displayName`, body: { schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'CT2' }] }, status: 200 },
  { name: 'type search', method: 'POST', path: '/Groups/.search', body: { count: 1 }, status: 200 },
  { name: 'root search', method: 'POST', path: '/.search', body: { count: 1 }, status: 200 },
  { name: 'ServiceProviderConfig', path: '/ServiceProviderConfig', status: 200 },
  { name: 'ResourceTypes', path: '/ResourceTypes', status: 200 },
  { name: 'one Schema', path: '/Schemas/urn:ietf:params:scim:schemas:core:2.0:User', status: 200 },
  { name: 'invalid filter (400)', path: '/Users?filter=nope+eq+1', status: 400 },
  { name: 'JSON parse error (400)', method: 'POST', path: '/Users', raw: '{"userName":', headers: { 'content-type': 'application/scim+json' }, status: 400 },
  { name: 'missing token (401)', path: '/Users', headers: { authorization: '' }, status: 401 },
  { name: 'wrong token (401)', path: '/Users', headers: { authorization: 'Bearer nope' }, status: 401 },
  { name: 'unknown id (404)', path: '/Users/00000000-0000-4000-8000-000000000000', status: 404 },
  { name: 'unknown route under the organization (404)', path: '/Devices', status: 404 },
  { name: 'unknown route under /scim (404)', path: '/scim/v2', status: 404 },
  { name: 'unknown SCIM version (404)', path: '/scim/v1/ctype/Users', status: 404 },
  { name: 'conflict (409)', method: 'POST', path: '/Users', body: { userName: 'CT@example.com' }, status: 409 },
  { name: 'If-Match mismatch (412)', method: 'DELETE', path: () => `/Users/${ids.user}`, headers: { 'if-match': 'W/"999"' }, status: 412 },
  { name: 'body too large (413)', method: 'POST', path: '/Users', body: { userName: 'big@example.com', title: 'x'.repeat(8000) }, status: 413 },
  { name: 'unsupported charset (415)', method: 'POST', path: '/Users', raw: '{}', headers: { 'content-type': 'application/scim+json; charset=latin1' }, status: 415 },
  { name: 'not implemented (501)', method: 'POST', path: '/Bulk', body: {}, status: 501 },
];

describe('Content-Type of every SCIM response is exactly application/scim+json (RFC 7644 §8.1)', () => {
  for (const c of cases) {
    it(`${c.name}: ${c.status}`, async () => {
      const raw = casePath(c);
      const path = raw.startsWith('/scim/') ? `${s.url}${raw}` : raw;
      const res = await s.scim(path, { method: c.method ?? 'GET', body: c.body, raw: c.raw, headers: c.headers });
      expect(res.status, res.text).toBe(c.status);
      expect(res.headers.get('content-type')).toBe('application/scim+json');
      expect(res.body).toBeTypeOf('object');
    });
  }
});
