// Bad input of every kind gets an RFC 7644 §3.12 error: the right status, the scimType Table 9
// defines for it, a useful detail, the Error schema and "status" as a string. Never a 500,
// and never a half-written change: every rejected request leaves the database as it was.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertOrganization } from '../src/store/orgs.js';
import { createToken, revokeToken } from '../src/store/tokens.js';
import type { ScimType } from '../src/scim/errors.js';
import { startTestServer, type ScimResponse, type TestServer } from './helpers/server.js';

const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

let s: TestServer;
/** Fixtures created once: alice and bob (members of eng), carol (deleted). */
const ids = { alice: '', bob: '', carol: '', eng: '' };

beforeAll(async () => {
  s = await startTestServer();
  const post = async (path: string, body: unknown) => {
    const res = await s.scim(path, { method: 'POST', body });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  ids.alice = await post('/Users', { schemas: [USER], userName: 'alice@example.com', displayName: 'Alice', emails: [{ value: 'alice@example.com', type: 'work', primary: true }] });
  ids.bob = await post('/Users', { schemas: [USER], userName: 'bob@example.com', displayName: 'Bob' });
  ids.carol = await post('/Users', { schemas: [USER], userName: 'carol@example.com' });
  expect((await s.scim(`/Users/${ids.carol}`, { method: 'DELETE' })).status).toBe(204);
  ids.eng = await post('/Groups', { displayName: 'Engineering', members: [{ value: ids.alice }] });
});
afterAll(async () => { await s?.close(); });

/** Everything a SCIM write can touch, as one string: equal before and after = nothing written. */
async function fingerprint(srv: TestServer = s): Promise<string> {
  const tables = ['scim_users', 'scim_groups', 'scim_group_members', 'reconcile_queue'];
  const parts = await Promise.all(
    tables.map(async (t) => (await srv.pool.query(`select count(*) || ':' || coalesce(md5(string_agg(x::text, ',' order by x::text)), '') as f from ${t} x`)).rows[0].f as string),
  );
  return parts.join('|');
}

function expectScimError(res: ScimResponse, status: number, scimType?: ScimType): void {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/);
  expect(res.body).toMatchObject({ schemas: [ERROR], status: String(status) });
  expect(res.body.scimType).toBe(scimType);
  expect(typeof res.body.detail).toBe('string');
  expect(res.body.detail.length).toBeGreaterThan(5);
}

interface Case {
  name: string;
  method?: string;
  /** A function when the path needs a fixture id. */
  path: string | (() => string);
  body?: unknown | (() => unknown);
  raw?: string;
  headers?: Record<string, string>;
  status: number;
  scimType?: ScimType;
  /** The detail must match this (a useful message names what was wrong). */
  detail?: RegExp;
}

const resolve = <T,>(v: T | (() => T)): T => (typeof v === 'function' ? (v as () => T)() : v);

/** Runs a case and asserts the error and that the database did not change. */
async function check(c: Case, srv: TestServer = s): Promise<ScimResponse> {
  const before = await fingerprint(srv);
  const res = await srv.scim(resolve(c.path), { method: c.method ?? 'GET', body: resolve(c.body), raw: c.raw, headers: c.headers });
  expectScimError(res, c.status, c.scimType);
  if (c.detail) expect(res.body.detail).toMatch(c.detail);
  expect(await fingerprint(srv)).toBe(before);
  return res;
}

const q = (path: string, params: Record<string, string>) => `${path}?${new URLSearchParams(params)}`;
const patchBody = (Operations: unknown) => ({ schemas: [PATCH], Operations });
const json = { 'content-type': 'application/scim+json' };

describe('malformed request bodies → 400 invalidSyntax', () => {
  const cases: Case[] = [
    { name: 'truncated JSON', method: 'POST', path: '/Users', raw: '{"userName": ', headers: json, status: 400, scimType: 'invalidSyntax', detail: /not valid JSON/ },
    { name: 'a JSON array as a User', method: 'POST', path: '/Users', raw: '[{"userName":"x@example.com"}]', headers: json, status: 400, scimType: 'invalidSyntax', detail: /JSON object/ },
    { name: 'a JSON string as a User', method: 'POST', path: '/Users', raw: '"x@example.com"', headers: json, status: 400, scimType: 'invalidSyntax' },
    { name: 'JSON null as a User', method: 'POST', path: '/Users', raw: 'null', headers: json, status: 400, scimType: 'invalidSyntax' },
    // body-parser reads an empty body as {}: the answer is the missing required attribute.
    { name: 'an empty POST body', method: 'POST', path: '/Users', raw: '', headers: json, status: 400, scimType: 'invalidValue', detail: /userName is required/ },
    { name: 'no body at all on POST', method: 'POST', path: '/Groups', status: 400, scimType: 'invalidValue', detail: /displayName is required/ },
    { name: 'an empty PATCH body', method: 'PATCH', path: () => `/Users/${ids.alice}`, raw: '', headers: json, status: 400, scimType: 'invalidSyntax', detail: /Operations/ },
    { name: 'a number as a Group', method: 'POST', path: '/Groups', raw: '42', headers: json, status: 400, scimType: 'invalidSyntax' },
    { name: 'truncated JSON on PUT', method: 'PUT', path: () => `/Users/${ids.alice}`, raw: '{"userName": "alice@example.com"', headers: json, status: 400, scimType: 'invalidSyntax' },
    { name: 'an array as a PatchOp', method: 'PATCH', path: () => `/Users/${ids.alice}`, raw: '[]', headers: json, status: 400, scimType: 'invalidSyntax' },
    { name: 'an array as a SearchRequest', method: 'POST', path: '/Users/.search', raw: '[]', headers: json, status: 400, scimType: 'invalidSyntax', detail: /SearchRequest/ },
    { name: 'a string as a SearchRequest on /Groups', method: 'POST', path: '/Groups/.search', raw: '"displayName pr"', headers: json, status: 400, scimType: 'invalidSyntax' },
    { name: 'a string as a root SearchRequest', method: 'POST', path: '/.search', raw: '"x"', headers: json, status: 400, scimType: 'invalidSyntax' },
    { name: 'JSON with a trailing garbage byte', method: 'POST', path: '/Groups', raw: '{"displayName":"x"}}', headers: json, status: 400, scimType: 'invalidSyntax' },
    { name: 'an unsupported charset', method: 'POST', path: '/Users', raw: '{"userName":"x@example.com"}', headers: { 'content-type': 'application/scim+json; charset=latin1' }, status: 415 },
    { name: 'an unsupported content encoding', method: 'POST', path: '/Users', raw: '{"userName":"x@example.com"}', headers: { ...json, 'content-encoding': 'snappy' }, status: 415 },
    { name: 'a gzip body that is not gzip', method: 'POST', path: '/Users', raw: 'not gzip at all', headers: { ...json, 'content-encoding': 'gzip' }, status: 400, detail: /could not be read/ },
  ];
  it.each(cases)('$name', async (c) => { await check(c); });
});

describe('payload limit → 413', () => {
  let small: TestServer;
  beforeAll(async () => { small = await startTestServer({ maxPayloadBytes: 1024 }); });
  afterAll(async () => { await small?.close(); });

  it.each([
    { name: 'POST /Users', method: 'POST', path: '/Users', body: { userName: 'big@example.com', displayName: 'x'.repeat(2000) } },
    { name: 'PATCH /Users/{id}', method: 'PATCH', path: '/Users/00000000-0000-0000-0000-000000000000', body: patchBody([{ op: 'replace', path: 'displayName', value: 'x'.repeat(2000) }]) },
    { name: 'POST /Users/.search', method: 'POST', path: '/Users/.search', body: { filter: `userName eq "${'x'.repeat(2000)}"` } },
  ])('$name with a body over the limit', async (c) => {
    const res = await check({ ...c, status: 413, detail: /1024 byte limit/ }, small);
    expect(res.body.detail).toMatch(/maxPayloadSize/);
  });

  it('accepts a body under the limit', async () => {
    expect((await small.scim('/Users', { method: 'POST', body: { userName: 'small@example.com' } })).status).toBe(201);
  });
});

describe('resource values → 400 invalidValue', () => {
  const user = (extra: Record<string, unknown>) => ({ schemas: [USER], userName: 'new@example.com', ...extra });
  const cases: Case[] = [
    { name: 'missing userName', method: 'POST', path: '/Users', body: { schemas: [USER], displayName: 'No Name' }, status: 400, scimType: 'invalidValue', detail: /userName is required/ },
    { name: 'userName null', method: 'POST', path: '/Users', body: user({ userName: null }), status: 400, scimType: 'invalidValue', detail: /userName/ },
    { name: 'userName blank', method: 'POST', path: '/Users', body: user({ userName: '   ' }), status: 400, scimType: 'invalidValue', detail: /userName/ },
    { name: 'userName a boolean', method: 'POST', path: '/Users', body: user({ userName: true }), status: 400, scimType: 'invalidValue', detail: /userName must be a string/ },
    { name: 'userName an object', method: 'POST', path: '/Users', body: user({ userName: { value: 'x' } }), status: 400, scimType: 'invalidValue', detail: /userName/ },
    { name: 'userName an array', method: 'POST', path: '/Users', body: user({ userName: ['x@example.com'] }), status: 400, scimType: 'invalidValue', detail: /single-valued/ },
    { name: 'userName with a NUL character', method: 'POST', path: '/Users', body: user({ userName: 'nul\u0000@example.com' }), status: 400, scimType: 'invalidValue', detail: /NUL/ },
    { name: 'displayName with a NUL character', method: 'POST', path: '/Users', body: user({ displayName: 'a\u0000b' }), status: 400, scimType: 'invalidValue', detail: /displayName/ },
    { name: 'active "maybe"', method: 'POST', path: '/Users', body: user({ active: 'maybe' }), status: 400, scimType: 'invalidValue', detail: /active must be a boolean/ },
    { name: 'active 1', method: 'POST', path: '/Users', body: user({ active: 1 }), status: 400, scimType: 'invalidValue', detail: /active/ },
    { name: 'name a string', method: 'POST', path: '/Users', body: user({ name: 'Ada Lovelace' }), status: 400, scimType: 'invalidValue', detail: /name must be an object/ },
    { name: 'name an array', method: 'POST', path: '/Users', body: user({ name: [{ givenName: 'Ada' }] }), status: 400, scimType: 'invalidValue', detail: /name is single-valued/ },
    { name: 'emails element an array', method: 'POST', path: '/Users', body: user({ emails: [['a@example.com']] }), status: 400, scimType: 'invalidValue', detail: /emails/ },
    { name: 'emails.value an object', method: 'POST', path: '/Users', body: user({ emails: [{ value: { address: 'a@example.com' } }] }), status: 400, scimType: 'invalidValue', detail: /emails\.value/ },
    { name: 'emails.primary "yes"', method: 'POST', path: '/Users', body: user({ emails: [{ value: 'a@example.com', primary: 'yes' }] }), status: 400, scimType: 'invalidValue', detail: /emails\.primary/ },
    { name: 'the enterprise extension a string', method: 'POST', path: '/Users', body: user({ [ENTERPRISE]: 'Research' }), status: 400, scimType: 'invalidValue', detail: /must be an object/ },
    { name: 'enterprise manager.value an object', method: 'POST', path: '/Users', body: user({ [ENTERPRISE]: { manager: { value: {} } } }), status: 400, scimType: 'invalidValue', detail: /manager/ },
    { name: 'Group without displayName', method: 'POST', path: '/Groups', body: { members: [] }, status: 400, scimType: 'invalidValue', detail: /displayName is required/ },
    { name: 'Group displayName an object', method: 'POST', path: '/Groups', body: { displayName: { en: 'x' } }, status: 400, scimType: 'invalidValue' },
    { name: 'PUT without userName', method: 'PUT', path: () => `/Users/${ids.alice}`, body: { schemas: [USER], displayName: 'Alice' }, status: 400, scimType: 'invalidValue', detail: /userName is required/ },
    { name: 'PUT with active "maybe"', method: 'PUT', path: () => `/Users/${ids.alice}`, body: { userName: 'alice@example.com', active: 'maybe' }, status: 400, scimType: 'invalidValue' },
    { name: 'PUT of a Group without displayName', method: 'PUT', path: () => `/Groups/${ids.eng}`, body: { members: [] }, status: 400, scimType: 'invalidValue' },
  ];
  it.each(cases)('$name', async (c) => { await check(c); });

  // Leniencies decided in src/scim/resource.ts, so that IdP input is not rejected.
  it.each([
    { name: 'a bare string for multi-valued complex emails is {value}', body: { userName: 'lenient1@example.com', emails: 'l1@example.com' }, expect: { emails: [{ value: 'l1@example.com' }] } },
    { name: 'a number for a string attribute is stringified', body: { userName: 12345 }, expect: { userName: '12345' } },
    { name: '"False" as a boolean (Entra)', body: { userName: 'lenient3@example.com', active: 'False' }, expect: { active: false } },
  ])('accepts $name', async (c) => {
    const res = await s.scim('/Users', { method: 'POST', body: c.body });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject(c.expect);
  });
});

describe('uniqueness → 409', () => {
  const cases: Case[] = [
    { name: 'POST of a taken userName', method: 'POST', path: '/Users', body: { userName: 'alice@example.com' }, status: 409, scimType: 'uniqueness', detail: /alice@example\.com/ },
    { name: 'POST of a taken userName in another case', method: 'POST', path: '/Users', body: { userName: 'ALICE@Example.COM' }, status: 409, scimType: 'uniqueness', detail: /ALICE@Example\.COM/ },
    { name: 'POST of a taken userName with surrounding blanks', method: 'POST', path: '/Users', body: { userName: '  alice@example.com ' }, status: 409, scimType: 'uniqueness' },
    { name: 'PUT renaming bob to alice', method: 'PUT', path: () => `/Users/${ids.bob}`, body: { userName: 'Alice@example.com', displayName: 'Bob' }, status: 409, scimType: 'uniqueness' },
    { name: 'PATCH renaming bob to alice', method: 'PATCH', path: () => `/Users/${ids.bob}`, body: patchBody([{ op: 'replace', path: 'userName', value: 'alice@EXAMPLE.com' }]), status: 409, scimType: 'uniqueness' },
    { name: 'pathless PATCH renaming bob to alice', method: 'PATCH', path: () => `/Users/${ids.bob}`, body: patchBody([{ op: 'replace', value: { userName: 'alice@example.com' } }]), status: 409, scimType: 'uniqueness' },
  ];
  it.each(cases)('$name', async (c) => { await check(c); });

  it('leaves bob as he was after the rejected renames', async () => {
    const res = await s.scim(`/Users/${ids.bob}`);
    expect(res.body).toMatchObject({ userName: 'bob@example.com', displayName: 'Bob', meta: { version: 'W/"1"' } });
  });
});

describe('filters → 400 invalidFilter', () => {
  const filters: [string, string, RegExp][] = [
    ['unknown attribute', 'favouriteColour eq "blue"', /unknown attribute 'favouriteColour'/],
    ['unknown sub-attribute', 'name.nickname eq "x"', /unknown attribute/],
    ['unbalanced opening parenthesis', '(userName eq "a" or userName eq "b"', /expected '\)'/],
    ['unbalanced closing parenthesis', 'userName eq "a")', /unexpected '\)'/],
    ['missing comparison value', 'userName eq', /comparison value/],
    ['missing right operand of and', 'userName eq "a" and', /missing its right operand/],
    ['missing left operand', 'and userName eq "a"', /missing its left operand/],
    ['unknown operator', 'userName equals "a"', /expected an operator/],
    ['missing operator', 'userName', /expected an operator/],
    ['gt on a boolean', 'active gt true', /cannot be applied to boolean/],
    ['co on a boolean', 'active co "t"', /needs a string attribute/],
    ['a string for a boolean', 'active eq "maybe"', /expected true or false/],
    ['unterminated string', 'userName eq "abc', /unterminated string/],
    ['bad escape in a string', 'userName eq "a\\qb"', /bad escape/],
    ['NUL character in a string', 'userName eq "a\\u0000b"', /NUL/],
    ['not a date for meta.lastModified', 'meta.lastModified gt "yesterday"', /xsd:dateTime/],
    ['impossible date for meta.lastModified', 'meta.lastModified gt "2024-02-30T00:00:00Z"', /xsd:dateTime/],
    ['year zero for meta.created', 'meta.created lt "0000-06-01T00:00:00Z"', /xsd:dateTime/],
    ['unclosed value filter', 'emails[type eq "work"', /expected '\]'/],
    ['compare a complex attribute without value', 'name eq "Ada"', /complex attribute/],
    ['gt null', 'displayName gt null', /null/],
    ['not without parentheses', 'not userName eq "a"', /expected '\('/],
  ];
  const cases: Case[] = filters.flatMap(([name, filter, detail]) => [
    { name: `GET ?filter= ${name}: ${filter}`, path: q('/Users', { filter }), status: 400, scimType: 'invalidFilter' as const, detail },
    { name: `POST /.search ${name}: ${filter}`, method: 'POST', path: '/Users/.search', body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter }, status: 400, scimType: 'invalidFilter' as const, detail },
  ]);
  cases.push(
    { name: 'Groups: unknown attribute', path: q('/Groups', { filter: 'userName eq "a"' }), status: 400, scimType: 'invalidFilter', detail: /unknown attribute/ },
    { name: 'Groups: members filter with a bad operator', path: q('/Groups', { filter: 'members[value eqq "a"]' }), status: 400, scimType: 'invalidFilter' },
    { name: 'filter not a string in a SearchRequest', method: 'POST', path: '/Users/.search', body: { filter: 42 }, status: 400, scimType: 'invalidFilter' },
    { name: 'filter given twice in a query', path: '/Users?filter=userName%20pr&filter=active%20pr', status: 400, scimType: 'invalidFilter' },
    { name: 'root /.search: an attribute neither type has', method: 'POST', path: '/.search', body: { filter: 'favouriteColour eq "blue"' }, status: 400, scimType: 'invalidFilter' },
    { name: 'a filter nested deeper than the limit', path: q('/Users', { filter: '('.repeat(40) + 'userName pr' + ')'.repeat(40) }), status: 400, scimType: 'invalidFilter', detail: /nests deeper/ },
  );
  it.each(cases)('$name', async (c) => { await check(c); });

  it('answers a SearchRequest filter of thousands of clauses with 400, not a crash', async () => {
    const filter = Array.from({ length: 20_000 }, (_, i) => `userName eq "u${i}@example.com"`).join(' or ');
    await check({ name: 'huge', method: 'POST', path: '/Users/.search', body: { filter }, status: 400, scimType: 'invalidFilter', detail: /characters long/ });
  });
});

describe('paging, sorting and cursor parameters → 400', () => {
  const cursorOf = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
  const cases: Case[] = [
    { name: 'count=abc', path: q('/Users', { count: 'abc' }), status: 400, scimType: 'invalidValue', detail: /count must be an integer/ },
    { name: 'count=1.5', path: q('/Users', { count: '1.5' }), status: 400, scimType: 'invalidValue', detail: /count/ },
    { name: 'count given twice', path: '/Users?count=1&count=2', status: 400, scimType: 'invalidValue' },
    { name: 'startIndex=x', path: q('/Users', { startIndex: 'x' }), status: 400, scimType: 'invalidValue', detail: /startIndex must be an integer/ },
    { name: 'startIndex beyond any safe integer', path: q('/Users', { startIndex: '1e30' }), status: 400, scimType: 'invalidValue', detail: /startIndex/ },
    { name: 'count "abc" in a SearchRequest', method: 'POST', path: '/Groups/.search', body: { count: 'abc' }, status: 400, scimType: 'invalidValue' },
    { name: 'cursor=garbage', path: q('/Users', { cursor: 'garbage' }), status: 400, scimType: 'invalidCursor', detail: /not one this server issued/ },
    { name: 'a cursor with an impossible timestamp', path: q('/Users', { cursor: cursorOf(`2024-13-45 99:99:99+00|${randomUUID()}`) }), status: 400, scimType: 'invalidCursor' },
    { name: 'a cursor with year zero', path: q('/Users', { cursor: cursorOf(`0000-01-01 00:00:00+00|${randomUUID()}`) }), status: 400, scimType: 'invalidCursor' },
    { name: 'a cursor whose id is 36 dashes', path: q('/Users', { cursor: cursorOf(`2024-01-01 00:00:00+00|${'-'.repeat(36)}`) }), status: 400, scimType: 'invalidCursor' },
    { name: 'a cursor on /Groups that is not base64url', path: q('/Groups', { cursor: '%%%' }), status: 400, scimType: 'invalidCursor' },
    { name: 'cursor and startIndex together', path: q('/Users', { cursor: '', startIndex: '1' }), status: 400, scimType: 'invalidValue', detail: /either startIndex or cursor/ },
    { name: 'cursor and sortBy together', path: q('/Users', { cursor: '', sortBy: 'userName' }), status: 400, scimType: 'invalidValue', detail: /creation order/ },
    { name: 'cursor on the root /.search', method: 'POST', path: '/.search', body: { cursor: '' }, status: 400, scimType: 'invalidValue', detail: /root/ },
    { name: 'sortOrder=sideways', path: q('/Users', { sortOrder: 'sideways' }), status: 400, scimType: 'invalidValue', detail: /sortOrder must be/ },
    { name: 'sortBy an unknown attribute', path: q('/Users', { sortBy: 'favouriteColour' }), status: 400, scimType: 'invalidValue', detail: /unknown attribute/ },
    { name: 'sortBy an unknown attribute on /Groups', path: q('/Groups', { sortBy: 'userName' }), status: 400, scimType: 'invalidValue' },
    // src/store/filterSql.ts answers this one with invalidSyntax (unknown names are invalidValue).
    { name: 'sortBy a complex attribute', path: q('/Users', { sortBy: 'name' }), status: 400, scimType: 'invalidValue', detail: /sub-attributes/ },
    { name: 'count=1e30', path: q('/Users', { count: '1e30' }), status: 400, scimType: 'invalidValue', detail: /out of range/ },
  ];
  it.each(cases)('$name', async (c) => { await check(c); });

  it.each([
    { name: 'a negative count is read as 0', params: { count: '-5' } },
    { name: 'count=0 returns only totalResults', params: { count: '0' } },
  ])('$name (RFC 7644 §3.4.2.4)', async ({ params }) => {
    const res = await s.scim(q('/Users', params));
    expect(res.status).toBe(200);
    expect(res.body.totalResults).toBeGreaterThan(0);
    expect(res.body.itemsPerPage).toBe(0);
    expect(res.body.Resources ?? []).toEqual([]);
  });

  it('reads a startIndex below 1 as 1 and one past the end as an empty page', async () => {
    const low = await s.scim(q('/Users', { startIndex: '-3' }));
    expect(low.status).toBe(200);
    expect(low.body.startIndex).toBe(1);
    const far = await s.scim(q('/Users', { startIndex: '3000000000' }));
    expect(far.status, far.text).toBe(200);
    expect(far.body).toMatchObject({ startIndex: 3000000000, itemsPerPage: 0 });
  });
});

describe('PATCH errors leave the resource unchanged', () => {
  const user = () => `/Users/${ids.alice}`;
  const cases: Case[] = [
    { name: 'missing Operations', body: { schemas: [PATCH] }, status: 400, scimType: 'invalidSyntax', detail: /Operations/ },
    { name: 'empty Operations', body: patchBody([]), status: 400, scimType: 'invalidSyntax', detail: /non-empty array/ },
    { name: 'Operations an object', body: patchBody({ op: 'add' }), status: 400, scimType: 'invalidSyntax' },
    { name: 'an operation that is a string', body: patchBody(['add']), status: 400, scimType: 'invalidSyntax', detail: /Operations\[0\]/ },
    { name: 'op "frobnicate"', body: patchBody([{ op: 'frobnicate', path: 'displayName', value: 'x' }]), status: 400, scimType: 'invalidSyntax', detail: /frobnicate/ },
    { name: 'no op', body: patchBody([{ path: 'displayName', value: 'x' }]), status: 400, scimType: 'invalidSyntax' },
    { name: 'a wrong schemas', body: { schemas: [USER], Operations: [{ op: 'replace', path: 'displayName', value: 'x' }] }, status: 400, scimType: 'invalidSyntax', detail: /PatchOp/ },
    { name: 'path not a string', body: patchBody([{ op: 'replace', path: 5, value: 'x' }]), status: 400, scimType: 'invalidPath' },
    { name: 'path an unknown attribute', body: patchBody([{ op: 'replace', path: 'favouriteColour', value: 'x' }]), status: 400, scimType: 'invalidPath', detail: /favouriteColour/ },
    { name: 'path with an empty sub-attribute', body: patchBody([{ op: 'replace', path: 'name.', value: 'x' }]), status: 400, scimType: 'invalidPath' },
    { name: 'path with junk after the value filter', body: patchBody([{ op: 'replace', path: 'emails[type eq "work"]value', value: 'x' }]), status: 400, scimType: 'invalidPath', detail: /expected nothing or '\.'/ },
    { name: 'path with a value filter on a simple attribute', body: patchBody([{ op: 'replace', path: 'userName[value eq "x"]', value: 'x' }]), status: 400, scimType: 'invalidPath' },
    { name: 'a malformed filter inside the path', body: patchBody([{ op: 'replace', path: 'emails[type eqq "work"].value', value: 'x' }]), status: 400, scimType: 'invalidFilter' },
    { name: 'replace through a non-eq filter that matches nothing', body: patchBody([{ op: 'replace', path: 'emails[type sw "hom"].value', value: 'h@example.com' }]), status: 400, scimType: 'noTarget', detail: /matches the filter/ },
    { name: 'replace through an or filter that matches nothing', body: patchBody([{ op: 'replace', path: 'emails[type eq "a" or type eq "b"]', value: { value: 'x@example.com' } }]), status: 400, scimType: 'noTarget' },
    { name: 'replace a sub-attribute of an empty multi-valued attribute', body: patchBody([{ op: 'replace', path: 'phoneNumbers.value', value: '555' }]), status: 400, scimType: 'noTarget' },
    { name: 'remove without a path', body: patchBody([{ op: 'remove', value: { displayName: 'Alice' } }]), status: 400, scimType: 'noTarget', detail: /requires a path/ },
    { name: 'replace id', body: patchBody([{ op: 'replace', path: 'id', value: randomUUID() }]), status: 400, scimType: 'mutability', detail: /readOnly/ },
    { name: 'replace meta', body: patchBody([{ op: 'replace', path: 'meta', value: { version: 'W/"9"' } }]), status: 400, scimType: 'mutability' },
    { name: 'replace meta.created', body: patchBody([{ op: 'replace', path: 'meta.created', value: '2020-01-01T00:00:00Z' }]), status: 400, scimType: 'mutability' },
    { name: 'pathless replace of meta', body: patchBody([{ op: 'replace', value: { meta: { created: '2020-01-01T00:00:00Z' } } }]), status: 400, scimType: 'mutability' },
    { name: 'remove userName', body: patchBody([{ op: 'remove', path: 'userName' }]), status: 400, scimType: 'mutability', detail: /required/ },
    { name: 'replace userName with blank', body: patchBody([{ op: 'replace', path: 'userName', value: ' ' }]), status: 400, scimType: 'invalidValue', detail: /cannot be emptied/ },
    { name: 'replace without a value', body: patchBody([{ op: 'replace', path: 'displayName' }]), status: 400, scimType: 'invalidValue', detail: /requires a value/ },
    { name: 'add active "maybe"', body: patchBody([{ op: 'add', path: 'active', value: 'maybe' }]), status: 400, scimType: 'invalidValue' },
    { name: 'pathless add with a non-object value', body: patchBody([{ op: 'add', value: 'x' }]), status: 400, scimType: 'invalidValue' },
    { name: 'a valid operation followed by a bad one (atomic)', body: patchBody([{ op: 'replace', path: 'displayName', value: 'Changed' }, { op: 'remove', path: 'userName' }]), status: 400, scimType: 'mutability', detail: /Operations\[1\]/ },
    { name: 'a NUL character in a value', body: patchBody([{ op: 'replace', path: 'displayName', value: 'a\u0000b' }]), status: 400, scimType: 'invalidValue' },
  ].map((c): Case => ({ ...(c as Omit<Case, 'path'>), method: 'PATCH', path: user }));
  it.each(cases)('$name', async (c) => {
    const before = await s.scim(user());
    await check(c);
    const after = await s.scim(user());
    expect(after.body).toEqual(before.body);
  });
});

// Member values that name no User or Group are skipped, not refused (issue 7; test/scim.unknownMembers.test.ts).
describe('malformed group members → 400, nothing written', () => {
  const group = () => `/Groups/${ids.eng}`;
  const cases: Case[] = [
    { name: 'POST with a member value that is a number', method: 'POST', path: '/Groups', body: { displayName: 'Ghosts', members: [{ value: 5 }] }, status: 400, scimType: 'invalidValue', detail: /member value/ },
    { name: 'POST with a member type "Robot"', method: 'POST', path: '/Groups', body: () => ({ displayName: 'Ghosts', members: [{ value: ids.bob, type: 'Robot' }] }), status: 400, scimType: 'invalidValue', detail: /Robot/ },
    { name: 'PATCH rename plus a member with a bad type (atomic)', method: 'PATCH', path: group, body: () => patchBody([{ op: 'replace', path: 'displayName', value: 'Renamed' }, { op: 'add', path: 'members', value: [{ value: ids.bob, type: 'Robot' }] }]), status: 400, scimType: 'invalidValue' },
    { name: 'PATCH remove through a filter on display', method: 'PATCH', path: group, body: patchBody([{ op: 'remove', path: 'members[display eq "Alice"]' }]), status: 400, scimType: 'invalidFilter' },
    { name: 'PATCH replace of a member sub-attribute', method: 'PATCH', path: group, body: () => patchBody([{ op: 'replace', path: `members[value eq "${ids.alice}"].display`, value: 'x' }]), status: 400, scimType: 'mutability' },
    { name: 'PATCH remove displayName', method: 'PATCH', path: group, body: patchBody([{ op: 'remove', path: 'displayName' }]), status: 400, scimType: 'mutability' },
  ];
  it.each(cases)('$name', async (c) => {
    const before = await s.scim(group());
    await check(c);
    const after = await s.scim(group());
    expect(after.body).toEqual(before.body);
    expect(after.body.members.map((m: { value: string }) => m.value)).toEqual([ids.alice]);
  });
});

describe('authentication → 401 with WWW-Authenticate', () => {
  let other: { token: string };
  let revoked: string;
  let expired: string;
  beforeAll(async () => {
    const org2 = await upsertOrganization(s.pool, { organization: 'globex' });
    other = await createToken(s.pool, org2.id);
    const r = await createToken(s.pool, s.organizationId, { description: 'to revoke' });
    expect(await revokeToken(s.pool, s.organizationId, r.prefix)).toBe(true);
    revoked = r.token;
    const e = await createToken(s.pool, s.organizationId, { description: 'to expire' });
    await s.pool.query(`update scim_tokens set expires_at = now() - interval '1 second' where prefix = $1::text`, [e.prefix]);
    expired = e.token;
  });

  const unknownToken = `scimsync_abcdefghij_${'A'.repeat(43)}`;
  const cases: { name: string; auth?: () => string; url?: () => string; method?: string; body?: unknown }[] = [
    { name: 'no Authorization header' },
    { name: 'Basic credentials', auth: () => 'Basic YWxpY2U6c2VjcmV0' },
    { name: '"Bearer" without a token', auth: () => 'Bearer' },
    { name: '"Bearer " with only blanks', auth: () => 'Bearer    ' },
    { name: 'two words after Bearer', auth: () => `Bearer ${s.token} extra` },
    { name: 'a token of the wrong shape', auth: () => 'Bearer hunter2' },
    { name: 'an unknown well-formed token', auth: () => `Bearer ${unknownToken}` },
    { name: 'a token with one character changed', auth: () => `Bearer ${s.token.slice(0, -1)}${s.token.endsWith('A') ? 'B' : 'A'}` },
    { name: 'a revoked token', auth: () => `Bearer ${revoked}` },
    { name: 'an expired token', auth: () => `Bearer ${expired}` },
    { name: "another organization's token", auth: () => `Bearer ${other.token}` },
    { name: 'an unknown organization slug', url: () => `${s.url}/scim/v2/nosuchorg/Users` },
    { name: 'a write with a revoked token', auth: () => `Bearer ${revoked}`, method: 'POST', body: { userName: 'intruder@example.com' } },
    { name: "a write with another organization's token", auth: () => `Bearer ${other.token}`, method: 'POST', body: { userName: 'intruder@example.com' } },
    { name: 'discovery without a token', url: () => `${s.baseUrl}/ServiceProviderConfig` },
  ];
  it.each(cases)('$name', async (c) => {
    const before = await fingerprint();
    const headers: Record<string, string> = { 'content-type': 'application/scim+json' };
    if (c.auth) headers.authorization = c.auth();
    const res = await fetch(c.url?.() ?? `${s.baseUrl}/Users`, { method: c.method ?? 'GET', headers, body: c.body ? JSON.stringify(c.body) : undefined });
    const text = await res.text();
    expectScimError({ status: res.status, headers: res.headers, text, body: JSON.parse(text) }, 401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="scimsync"/);
    expect(text).not.toContain(s.token);
    expect(await fingerprint()).toBe(before);
  });

  it('still accepts the valid token', async () => {
    expect((await s.scim('/Users')).status).toBe(200);
  });
});

describe('endpoints and methods', () => {
  const cases: Case[] = [
    { name: 'an unknown endpoint', path: '/Devices', status: 404, detail: /no SCIM endpoint GET \/Devices/ },
    { name: 'the SCIM root', path: '/', status: 404 },
    { name: 'an unknown user id', path: `/Users/${randomUUID()}`, status: 404, detail: /not found/ },
    { name: 'a user id that is not a uuid', path: '/Users/not-a-uuid', status: 404 },
    { name: 'a deleted user', path: () => `/Users/${ids.carol}`, status: 404 },
    { name: 'PATCH of a deleted user', method: 'PATCH', path: () => `/Users/${ids.carol}`, body: patchBody([{ op: 'replace', path: 'active', value: true }]), status: 404 },
    { name: 'DELETE of an unknown group', method: 'DELETE', path: `/Groups/${randomUUID()}`, status: 404 },
    { name: 'PUT /Users (no id)', method: 'PUT', path: '/Users', body: { userName: 'x@example.com' }, status: 404 },
    { name: 'DELETE /Users (no id)', method: 'DELETE', path: '/Users', status: 404 },
    { name: 'PATCH /Groups (no id)', method: 'PATCH', path: '/Groups', body: patchBody([{ op: 'add', path: 'displayName', value: 'x' }]), status: 404 },
    { name: 'POST /Users/{id}', method: 'POST', path: () => `/Users/${ids.alice}`, body: { userName: 'x@example.com' }, status: 404 },
    { name: 'GET /Users/.search', path: '/Users/.search', status: 404 },
    { name: 'an unknown resource type', path: '/ResourceTypes/Device', status: 404 },
    { name: 'an unknown schema', path: '/Schemas/urn:example:nope', status: 404 },
    { name: 'GET /Bulk', path: '/Bulk', status: 501, detail: /bulk/ },
    { name: 'POST /Bulk', method: 'POST', path: '/Bulk', body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: [] }, status: 501 },
    { name: 'GET /Me', path: '/Me', status: 501 },
    { name: 'a path segment that is not valid percent-encoding', path: '/Users/%E0%A4%A', status: 400, detail: /percent-encoding/ },
    { name: 'an organization slug that is not valid percent-encoding', path: () => `${s.url}/scim/v2/%zz/Users`, status: 400 },
  ];
  it.each(cases)('$name', async (c) => { await check(c); });
});

describe('ETag preconditions → 412', () => {
  const user = () => `/Users/${ids.alice}`;
  const cases: Case[] = [
    { name: 'PUT with a stale If-Match', method: 'PUT', path: user, body: { userName: 'alice@example.com', displayName: 'Stale' }, headers: { 'if-match': 'W/"999"' }, status: 412, detail: /If-Match/ },
    { name: 'PATCH with a stale If-Match', method: 'PATCH', path: user, body: patchBody([{ op: 'replace', path: 'displayName', value: 'Stale' }]), headers: { 'if-match': '"999"' }, status: 412 },
    { name: 'DELETE with a stale If-Match', method: 'DELETE', path: user, headers: { 'if-match': 'W/"999"' }, status: 412 },
    { name: 'group PATCH with a stale If-Match', method: 'PATCH', path: () => `/Groups/${ids.eng}`, body: () => patchBody([{ op: 'add', path: 'members', value: [{ value: ids.bob }] }]), headers: { 'if-match': 'W/"999"' }, status: 412 },
    { name: 'a malformed If-Match', method: 'PUT', path: user, body: { userName: 'alice@example.com' }, headers: { 'if-match': 'version-1' }, status: 412, detail: /not a list of entity tags/ },
    { name: 'an If-Match list with one malformed tag', method: 'PATCH', path: user, body: patchBody([{ op: 'replace', path: 'displayName', value: 'x' }]), headers: { 'if-match': 'W/"1", junk' }, status: 412 },
  ];
  it.each(cases)('$name', async (c) => { await check(c); });

  it('applies the write when If-Match names the current version', async () => {
    const cur = await s.scim(`/Groups/${ids.eng}`);
    const res = await s.scim(`/Groups/${ids.eng}`, { method: 'PATCH', body: patchBody([{ op: 'replace', path: 'externalId', value: 'eng-1' }]), headers: { 'if-match': cur.body.meta.version } });
    expect(res.status).toBe(204);
    expect(res.headers.get('etag')).not.toBe(cur.body.meta.version);
  });
});

describe('unexpected server errors → 500 without internals', () => {
  let broken: TestServer;
  beforeAll(async () => { broken = await startTestServer(); });
  afterAll(async () => { await broken?.close(); });

  it('answers a failing database query with a request id and no SQL text', async () => {
    await broken.pool.query('alter table scim_groups rename to scim_groups_x');
    let res: ScimResponse;
    try {
      res = await broken.scim('/Groups', { headers: { 'x-request-id': 'req-errors-test-1' } });
    } finally {
      await broken.pool.query('alter table scim_groups_x rename to scim_groups');
    }
    expectScimError(res, 500);
    expect(res.headers.get('x-request-id')).toBe('req-errors-test-1');
    expect(res.body.detail).toContain('req-errors-test-1');
    expect(Object.keys(res.body).sort()).toEqual(['detail', 'schemas', 'status']);
    expect(res.text).not.toMatch(/scim_groups|relation|does not exist|at .*\.(ts|js)|stack/i);
    expect((await broken.scim('/Groups')).status).toBe(200);
  });

  it('generates a request id when the client sends none', async () => {
    await broken.pool.query('alter table scim_users rename to scim_users_x');
    let res: ScimResponse;
    try {
      res = await broken.scim('/Users');
    } finally {
      await broken.pool.query('alter table scim_users_x rename to scim_users');
    }
    expectScimError(res, 500);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.detail).toContain(id);
    expect(res.text).not.toMatch(/scim_users|relation/);
  });
});
