// The input classes fuzzing found to cause 500s (issue 10: 36 of 6,000 inputs, 11 causes) and
// their relatives. Each must be a 4xx SCIM error with the right scimType and a detail that
// says what is wrong, and must leave the database as it was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScimType } from '../src/scim/errors.js';
import { MAX_INDEXED_LENGTH } from '../src/scim/resource.js';
import { casePath, startTestServer, type ScimRequestCase, type ScimResponse, type TestServer } from './helpers/server.js';

const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

let s: TestServer;
const ids = { alice: '', eng: '' };

beforeAll(async () => {
  s = await startTestServer();
  const a = await s.scim('/Users', { method: 'POST', body: { schemas: [USER], userName: 'alice@example.com' } });
  ids.alice = a.body.id;
  const g = await s.scim('/Groups', { method: 'POST', body: { schemas: [GROUP], displayName: 'Engineering', members: [{ value: ids.alice }] } });
  ids.eng = g.body.id;
});
afterAll(async () => {
  await s?.close();
});

async function fingerprint(): Promise<string> {
  const tables = ['scim_users', 'scim_groups', 'scim_group_members', 'reconcile_queue'];
  const parts = await Promise.all(
    tables.map(async (t) => (await s.pool.query(`select count(*) || ':' || coalesce(md5(string_agg(x::text, ',' order by x::text)), '') as f from ${t} x`)).rows[0].f as string),
  );
  return parts.join('|');
}

function expectScimError(res: ScimResponse, status: number, scimType: ScimType | undefined, detail: RegExp): void {
  expect(res.status, res.text).toBe(status);
  expect(res.body).toMatchObject({ schemas: [ERROR], status: String(status) });
  expect(res.body.scimType).toBe(scimType);
  expect(res.body.detail).toMatch(detail);
}

interface Case extends ScimRequestCase {
  status?: number;
  scimType: ScimType | undefined;
  detail: RegExp;
}

const patch = (...ops: unknown[]) => ({ schemas: [PATCH], Operations: ops });
const long = (n: number, ch = 'x') => ch.repeat(n);
const LONE_HIGH = '\ud800';
const LONE_LOW = 'abc\udfffdef';
const nested = (depth: number, open: string, close: string, inner = '1') => `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
const cursorOf = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

const cases: Case[] = [
  // Lone UTF-16 surrogates and NUL in any stored string.
  { name: 'lone high surrogate in userName', method: 'POST', path: '/Users', body: { schemas: [USER], userName: `x${LONE_HIGH}@example.com` }, scimType: 'invalidValue', detail: /userName.*surrogate/ },
  { name: 'lone low surrogate in a nested sub-attribute', method: 'POST', path: '/Users', body: { schemas: [USER], userName: 'n@example.com', name: { givenName: LONE_LOW } }, scimType: 'invalidValue', detail: /name\.givenName.*surrogate/ },
  { name: 'lone surrogate in an unknown attribute (never stored, still not Unicode)', method: 'POST', path: '/Users', body: { schemas: [USER], userName: 'u@example.com', nickname2: LONE_HIGH }, scimType: 'invalidValue', detail: /surrogate/ },
  { name: 'lone surrogate in an attribute name', method: 'POST', path: '/Users', body: { schemas: [USER], userName: 'k@example.com', [`a${LONE_HIGH}`]: 'x' }, scimType: 'invalidValue', detail: /attribute name.*surrogate/ },
  { name: 'lone surrogate in a group displayName by PATCH', method: 'PATCH', path: () => `/Groups/${ids.eng}`, body: patch({ op: 'replace', path: 'displayName', value: LONE_HIGH }), scimType: 'invalidValue', detail: /surrogate/ },
  { name: 'lone surrogate in a member value', method: 'PATCH', path: () => `/Groups/${ids.eng}`, body: patch({ op: 'add', path: 'members', value: [{ value: LONE_HIGH }] }), scimType: 'invalidValue', detail: /surrogate/ },
  { name: 'lone surrogate in a root .search filter', method: 'POST', path: '/.search', body: { filter: `userName eq "${LONE_HIGH}"` }, scimType: 'invalidValue', detail: /filter.*surrogate/ },
  { name: 'lone surrogate in a .search filter', method: 'POST', path: '/Users/.search', body: { filter: `displayName eq "${LONE_LOW}"` }, scimType: 'invalidValue', detail: /filter.*surrogate/ },
  { name: 'NUL in externalId', method: 'POST', path: '/Users', body: { schemas: [USER], userName: 'z@example.com', externalId: 'a\u0000b' }, scimType: 'invalidValue', detail: /externalId.*NUL/ },
  { name: 'NUL in a filter literal', path: `/Users?filter=${encodeURIComponent('userName eq "a\u0000"')}`, scimType: 'invalidValue', detail: /NUL/ },
  { name: 'NUL in a PATCH path', method: 'PATCH', path: () => `/Users/${ids.alice}`, body: patch({ op: 'replace', path: 'displayName\u0000', value: 'x' }), scimType: 'invalidValue', detail: /NUL/ },

  // Values longer than an index entry can hold (btree: ~2,700 bytes).
  ...[3000, 6000].flatMap((n) => [
    { name: `userName of ${n} characters`, method: 'POST', path: '/Users', body: { schemas: [USER], userName: `${long(n)}@example.com` }, scimType: 'invalidValue' as const, detail: new RegExp(`userName is ${n + 12} characters long; at most ${MAX_INDEXED_LENGTH}`) },
    { name: `externalId of ${n} characters`, method: 'POST', path: '/Users', body: { schemas: [USER], userName: `ext${n}@example.com`, externalId: long(n) }, scimType: 'invalidValue' as const, detail: /externalId is \d+ characters long/ },
    { name: `group displayName of ${n} characters`, method: 'POST', path: '/Groups', body: { schemas: [GROUP], displayName: long(n) }, scimType: 'invalidValue' as const, detail: /displayName is \d+ characters long/ },
  ]),
  { name: 'userName of 1,000 four-byte characters', method: 'POST', path: '/Users', body: { schemas: [USER], userName: long(1000, '😀') }, scimType: 'invalidValue', detail: /userName is 1000 characters long/ },
  { name: 'userName made too long by PATCH', method: 'PATCH', path: () => `/Users/${ids.alice}`, body: patch({ op: 'replace', path: 'userName', value: long(4000) }), scimType: 'invalidValue', detail: /userName is 4000 characters/ },
  { name: 'group displayName made too long by PUT', method: 'PUT', path: () => `/Groups/${ids.eng}`, body: { schemas: [GROUP], displayName: long(5000) }, scimType: 'invalidValue', detail: /displayName is 5000/ },

  // dateTime literals that are not dates: month 00/13, day 32, hour 25 (filters and cursors).
  ...['2024-00-10T00:00:00Z', '2024-13-01T00:00:00Z', '2024-01-32T00:00:00Z', '2024-02-30T00:00:00Z', '2024-01-01T25:00:00Z', '2024-01-01T23:60:00Z'].map((v) => ({
    name: `filter meta.lastModified gt "${v}"`,
    path: `/Users?filter=${encodeURIComponent(`meta.lastModified gt "${v}"`)}`,
    scimType: 'invalidFilter' as const,
    detail: /dateTime|date/i,
  })),
  ...['2024-13-01 00:00:00+00', '2024-00-01 00:00:00+00', '2024-01-01 25:00:00+00'].map((v) => ({
    name: `cursor at "${v}"`,
    path: `/Users?cursor=${cursorOf(`${v}|00000000-0000-4000-8000-000000000000`)}`,
    scimType: 'invalidCursor' as const,
    detail: /cursor/,
  })),

  // Nesting 5,000 deep.
  { name: 'arrays nested 5,000 deep', method: 'POST', path: '/Users', raw: `{"schemas":["${USER}"],"userName":"d@example.com","emails":${nested(5000, '[', ']')}}`, scimType: 'invalidSyntax', detail: /more than 64 levels deep/ },
  { name: 'objects nested 5,000 deep in a PATCH value', method: 'PATCH', path: () => `/Users/${ids.alice}`, raw: `{"schemas":["${PATCH}"],"Operations":[{"op":"add","value":${nested(5000, '{"a":', '}')}}]}`, scimType: 'invalidSyntax', detail: /levels deep/ },
  { name: 'a .search body nested 5,000 deep', method: 'POST', path: '/.search', raw: `{"filter":${nested(5000, '[', ']')}}`, scimType: 'invalidSyntax', detail: /levels deep/ },

  // An object (with a toString key) or an array where a string is expected.
  ...['count', 'startIndex', 'cursor', 'sortOrder', 'sortBy'].map((param) => ({
    name: `.search ${param}: {"toString": …}`,
    method: 'POST',
    path: '/Users/.search',
    body: { [param]: { toString: 'x', valueOf: 1 } },
    scimType: 'invalidValue' as const,
    detail: new RegExp(`${param} must be a string or a number`),
  })),
  { name: '.search attributes: [{"toString": …}]', method: 'POST', path: '/Users/.search', body: { attributes: [{ toString: 'x' }] }, scimType: 'invalidValue', detail: /attributes must be a list of attribute names/ },
  { name: '.search excludedAttributes: {"toString": …}', method: 'POST', path: '/Groups/.search', body: { excludedAttributes: { toString: 'x' } }, scimType: 'invalidValue', detail: /excludedAttributes must be a list/ },
  { name: 'root .search sortBy: {"toString": …}', method: 'POST', path: '/.search', body: { sortBy: { toString: 'x' } }, scimType: 'invalidValue', detail: /sortBy must be a string/ },
  { name: 'root .search filter: {"toString": …}', method: 'POST', path: '/.search', body: { filter: { toString: 'x' } }, scimType: 'invalidFilter', detail: /filter must be a string/ },
  { name: '?count=1&count=2', path: '/Users?count=1&count=2', scimType: 'invalidValue', detail: /count must be given once/ },
  { name: '?sortOrder twice', path: '/Users?sortBy=userName&sortOrder=ascending&sortOrder=descending', scimType: 'invalidValue', detail: /sortOrder must be given once/ },
  { name: '?cursor twice', path: '/Users?cursor=&cursor=', scimType: 'invalidValue', detail: /cursor must be given once/ },
  { name: '?filter twice', path: '/Groups?filter=displayName%20pr&filter=displayName%20pr', scimType: 'invalidFilter', detail: /filter must be given once/ },
  { name: 'member type {"toString": …}', method: 'PATCH', path: () => `/Groups/${ids.eng}`, body: patch({ op: 'add', path: 'members', value: [{ value: '00000000-0000-4000-8000-000000000001', type: { toString: 'x' } }] }), scimType: 'invalidValue', detail: /A member type must be "User" or "Group", got {"toString":"x"}/ },
  { name: 'member type as a number', method: 'POST', path: '/Groups', body: { schemas: [GROUP], displayName: 'T', members: [{ value: '00000000-0000-4000-8000-000000000001', type: 7 }] }, scimType: 'invalidValue', detail: /member type/ },
  { name: 'PATCH op {"toString": …}', method: 'PATCH', path: () => `/Users/${ids.alice}`, body: patch({ op: { toString: 'add' }, path: 'displayName', value: 'x' }), scimType: 'invalidSyntax', detail: /unsupported op/ },
  { name: 'PATCH path {"toString": …}', method: 'PATCH', path: () => `/Users/${ids.alice}`, body: patch({ op: 'add', path: { toString: 'displayName' }, value: 'x' }), scimType: 'invalidPath', detail: /path must be a string/ },
  { name: 'userName {"toString": …}', method: 'POST', path: '/Users', body: { schemas: [USER], userName: { toString: 'x' } }, scimType: 'invalidValue', detail: /userName must be a string/ },

  // Bounded work: the PATCH operation cap.
  { name: 'PATCH of 1,001 operations (over SCIM_MAX_PATCH_OPERATIONS)', method: 'PATCH', path: () => `/Users/${ids.alice}`, body: patch(...Array.from({ length: 1001 }, (_, i) => ({ op: 'replace', path: 'displayName', value: `d${i}` }))), status: 413, scimType: undefined, detail: /1001 operations; at most 1000 are accepted per request \(SCIM_MAX_PATCH_OPERATIONS\)/ },
];

describe('hostile input is a 4xx SCIM error and writes nothing', () => {
  it.each(cases)('$name', async (c) => {
    const before = await fingerprint();
    const path = casePath(c);
    const res = await s.scim(path, { method: c.method ?? 'GET', body: c.body, raw: c.raw, headers: c.raw ? { 'content-type': 'application/scim+json' } : undefined });
    expectScimError(res, c.status ?? 400, c.scimType, c.detail);
    expect(await fingerprint()).toBe(before);
  });
});

describe('the limits hold exactly at the boundary', () => {
  it(`accepts a userName, externalId and group displayName of exactly ${MAX_INDEXED_LENGTH} four-byte characters`, async () => {
    const name = long(MAX_INDEXED_LENGTH, '😀');
    const u = await s.scim('/Users', { method: 'POST', body: { schemas: [USER], userName: name, externalId: name } });
    expect(u.status, u.text).toBe(201);
    expect(u.body.userName).toBe(name);
    const g = await s.scim('/Groups', { method: 'POST', body: { schemas: [GROUP], displayName: name, externalId: name } });
    expect(g.status, g.text).toBe(201);
    const found = await s.scim(`/Users?filter=${encodeURIComponent(`userName eq "${name}"`)}`);
    expect(found.body.totalResults).toBe(1);
  });

  it('accepts a PATCH of exactly 1,000 operations and surrogate pairs (valid Unicode)', async () => {
    const ops = Array.from({ length: 1000 }, (_, i) => ({ op: 'add', path: 'emails', value: [{ value: `a${i}@example.com`, type: 'work', primary: i === 999 }] }));
    const res = await s.scim(`/Users/${ids.alice}?attributes=emails,nickName`, { method: 'PATCH', body: patch(...ops, ) });
    expect(res.status, res.text).toBe(200);
    expect(res.body.emails).toHaveLength(1000);
    expect(res.body.emails.filter((e: { primary?: boolean }) => e.primary)).toEqual([{ value: 'a999@example.com', type: 'work', primary: true }]);
    const pair = await s.scim(`/Users/${ids.alice}?attributes=nickName`, { method: 'PATCH', body: patch({ op: 'replace', path: 'nickName', value: 'ok 😀' }) });
    expect(pair.body.nickName).toBe('ok 😀');
  });

  it('advertises the length limit in /Schemas', async () => {
    const res = await s.scim('/Schemas');
    const text = JSON.stringify(res.body);
    expect(text).toMatch(/At most 512 characters/);
    const user = res.body.Resources.find((r: { id: string }) => r.id === USER);
    const userName = user.attributes.find((a: { name: string }) => a.name === 'userName');
    expect(userName.description).toMatch(/At most 512 characters/);
  });

  it('accepts valid dateTime edge values in filters (leap day, 23:59:59)', async () => {
    for (const v of ['2024-02-29T00:00:00Z', '2023-12-31T23:59:59Z', '2024-01-01']) {
      const res = await s.scim(`/Users?filter=${encodeURIComponent(`meta.lastModified gt "${v}"`)}`);
      expect(res.status, `${v}: ${res.text}`).toBe(200);
    }
  });
});
