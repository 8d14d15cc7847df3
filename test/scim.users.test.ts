// /Users over real HTTP and a real Postgres: every endpoint, paging, filters, projection, ETags.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

let s: TestServer;
beforeAll(async () => { s = await startTestServer(); });
afterAll(async () => { await s.close(); });

const newUser = (userName: string, extra: Record<string, unknown> = {}) => ({
  schemas: [USER],
  userName,
  name: { givenName: 'Ada', familyName: 'Lovelace' },
  emails: [{ value: userName, type: 'work', primary: true }],
  active: true,
  ...extra,
});

describe('POST /Users', () => {
  it('creates a user with server-generated id and meta, ignoring client id/meta', async () => {
    const res = await s.scim('/Users', { method: 'POST', body: newUser('ada@example.com', { id: 'client-id', meta: { version: 'x' } }) });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/application\/scim\+json/);
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.id).not.toBe('client-id');
    expect(res.body.meta.resourceType).toBe('User');
    expect(res.body.meta.location).toBe(`${s.baseUrl}/Users/${res.body.id}`);
    expect(res.headers.get('location')).toBe(res.body.meta.location);
    expect(res.body.meta.version).toBe('W/"1"');
    expect(res.headers.get('etag')).toBe('W/"1"');
    expect(Date.parse(res.body.meta.created)).not.toBeNaN();
    expect(res.body.schemas).toContain(USER);
    expect(res.body.active).toBe(true);
  });

  it('keeps the enterprise extension and drops unknown attributes and the password', async () => {
    const res = await s.scim('/Users', {
      method: 'POST',
      body: newUser('grace@example.com', {
        schemas: [USER, ENTERPRISE],
        [ENTERPRISE]: { department: 'Research', manager: { value: 'm-1' } },
        favouriteColour: 'blue',
        password: 'hunter2',
      }),
    });
    expect(res.status).toBe(201);
    expect(res.body[ENTERPRISE].department).toBe('Research');
    expect(res.body.schemas).toContain(ENTERPRISE);
    expect(res.body.favouriteColour).toBeUndefined();
    expect(res.body.password).toBeUndefined();
    const { rows } = await s.pool.query(`select resource from scim_users where lower(user_name) = 'grace@example.com'`);
    expect(JSON.stringify(rows[0].resource)).not.toContain('hunter2');
    expect(rows[0].resource.favouriteColour).toBeUndefined();
  });

  it('rejects a duplicate userName case-insensitively with 409 uniqueness', async () => {
    const res = await s.scim('/Users', { method: 'POST', body: newUser('ADA@example.com') });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '409', scimType: 'uniqueness' });
    expect(res.body.detail).toContain('ADA@example.com');
  });

  it('allows several users with one externalId', async () => {
    const a = await s.scim('/Users', { method: 'POST', body: newUser('ext1@example.com', { externalId: 'shared' }) });
    const b = await s.scim('/Users', { method: 'POST', body: newUser('ext2@example.com', { externalId: 'shared' }) });
    expect([a.status, b.status]).toEqual([201, 201]);
    const list = await s.scim('/Users?filter=' + encodeURIComponent('externalId eq "shared"'));
    expect(list.body.totalResults).toBe(2);
  });
});

describe('GET /Users', () => {
  let id: string;
  beforeAll(async () => {
    id = (await s.scim('/Users', { method: 'POST', body: newUser('linus@example.com', { displayName: 'Linus' }) })).body.id;
  });

  it('reads one user, 404 for unknown and malformed ids', async () => {
    const res = await s.scim(`/Users/${id}`);
    expect(res.status).toBe(200);
    expect(res.body.userName).toBe('linus@example.com');
    const missing = await s.scim('/Users/00000000-0000-0000-0000-000000000000');
    expect(missing.status).toBe(404);
    expect(missing.body.status).toBe('404');
    expect(missing.body.detail).toBeTruthy();
    expect((await s.scim('/Users/not-a-uuid')).status).toBe(404);
  });

  it('answers 304 to If-None-Match with the current version', async () => {
    const first = await s.scim(`/Users/${id}`);
    const again = await s.scim(`/Users/${id}`, { headers: { 'if-none-match': first.headers.get('etag')! } });
    expect(again.status).toBe(304);
  });

  it('filters by userName eq case-insensitively and returns an empty list for no match', async () => {
    const hit = await s.scim('/Users?filter=' + encodeURIComponent('userName eq "LINUS@EXAMPLE.COM"'));
    expect(hit.status).toBe(200);
    expect(hit.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:ListResponse']);
    expect(hit.body.totalResults).toBe(1);
    expect(hit.body.Resources[0].id).toBe(id);
    const miss = await s.scim('/Users?filter=' + encodeURIComponent('userName eq "6f1b0c9e-5b7a-4f8e-9d1c-2a3b4c5d6e7f"'));
    expect(miss.status).toBe(200);
    expect(miss.body.totalResults).toBe(0);
    expect(miss.body.Resources).toEqual([]);
  });

  it('projects attributes and excludedAttributes', async () => {
    const res = await s.scim(`/Users/${id}?attributes=userName`);
    expect(res.body.userName).toBe('linus@example.com');
    expect(res.body.id).toBe(id);
    expect(res.body.name).toBeUndefined();
    const ex = await s.scim(`/Users/${id}?excludedAttributes=emails,name`);
    expect(ex.body.emails).toBeUndefined();
    expect(ex.body.name).toBeUndefined();
    expect(ex.body.userName).toBe('linus@example.com');
  });

  it('sorts, and pages by index', async () => {
    const all = await s.scim('/Users?sortBy=userName&sortOrder=descending&count=1000');
    const names = all.body.Resources.map((u: { userName: string }) => u.userName);
    expect(names).toEqual([...names].sort().reverse());
    const page = await s.scim('/Users?sortBy=userName&startIndex=2&count=2');
    expect(page.body.startIndex).toBe(2);
    expect(page.body.itemsPerPage).toBe(2);
    expect(page.body.totalResults).toBe(all.body.totalResults);
    expect(page.body.Resources.map((u: { userName: string }) => u.userName)).toEqual([...names].sort().slice(1, 3));
  });

  it('pages by cursor (RFC 9865) through every user exactly once', async () => {
    const total = (await s.scim('/Users?count=0')).body.totalResults;
    const seen: string[] = [];
    let cursor = '';
    for (let i = 0; i < 20; i++) {
      const res = await s.scim(`/Users?count=2&cursor=${encodeURIComponent(cursor)}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.Resources.map((u: { id: string }) => u.id));
      if (!res.body.nextCursor) break;
      cursor = res.body.nextCursor;
    }
    expect(seen.length).toBe(total);
    expect(new Set(seen).size).toBe(total);
    const bad = await s.scim('/Users?cursor=garbage');
    expect(bad.status).toBe(400);
    expect(bad.body.scimType).toBe('invalidCursor');
  });

  it('counts once per cursor traversal: later pages answer the first page\'s total (no count(*) per page)', async () => {
    const first = await s.scim('/Users?count=2&cursor=');
    const total = first.body.totalResults;
    expect(total).toBeGreaterThan(2);
    const { rows } = await s.pool.query(`select count(*)::int as n from scim_users where organization_id = $1::uuid and deleted_at is null`, [s.organizationId]);
    expect(total).toBe(rows[0].n);
    await s.scim('/Users', { method: 'POST', body: newUser('during-traversal@example.com') });
    const second = await s.scim(`/Users?count=2&cursor=${first.body.nextCursor}`);
    expect(second.status).toBe(200);
    expect(second.body.totalResults).toBe(total);
    // A new traversal counts again; a cursor from before totals were carried (createdAt|id) still works and counts.
    expect((await s.scim('/Users?count=2&cursor=')).body.totalResults).toBe(total + 1);
    const [createdAt, id] = Buffer.from(first.body.nextCursor, 'base64url').toString('utf8').split('|');
    const old = Buffer.from(`${createdAt}|${id}`, 'utf8').toString('base64url');
    expect((await s.scim(`/Users?count=2&cursor=${old}`)).body.totalResults).toBe(total + 1);
    const forged = Buffer.from(`${createdAt}|${id}|-1`, 'utf8').toString('base64url');
    expect((await s.scim(`/Users?count=2&cursor=${forged}`)).body.scimType).toBe('invalidCursor');
  });

  it('searches with POST /.search', async () => {
    const res = await s.scim('/Users/.search', {
      method: 'POST',
      body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'userName sw "linus"', attributes: ['userName'] },
    });
    expect(res.status).toBe(200);
    expect(res.body.totalResults).toBe(1);
    expect(res.body.Resources[0].name).toBeUndefined();
    const root = await s.scim('/.search', { method: 'POST', body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'userName eq "linus@example.com"' } });
    expect(root.status).toBe(200);
    expect(root.body.totalResults).toBe(1);
  });
});

describe('PUT, PATCH, DELETE /Users', () => {
  let id: string;
  beforeAll(async () => {
    id = (await s.scim('/Users', { method: 'POST', body: newUser('mary@example.com', { title: 'Engineer' }) })).body.id;
  });

  it('replaces a user with PUT and bumps the version', async () => {
    const res = await s.scim(`/Users/${id}`, { method: 'PUT', body: newUser('mary@example.com', { name: { givenName: 'Mary', familyName: 'Shelley' } }) });
    expect(res.status).toBe(200);
    expect(res.body.name.familyName).toBe('Shelley');
    expect(res.body.title).toBeUndefined();
    expect(res.body.meta.version).toBe('W/"2"');
  });

  it('enforces If-Match with 412', async () => {
    const res = await s.scim(`/Users/${id}`, { method: 'PUT', headers: { 'if-match': 'W/"1"' }, body: newUser('mary@example.com') });
    expect(res.status).toBe(412);
    expect(res.body.status).toBe('412');
    const ok = await s.scim(`/Users/${id}`, {
      method: 'PATCH',
      headers: { 'if-match': 'W/"2"' },
      body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'Author' }] },
    });
    expect(ok.status).toBe(200); // a User PATCH answers with the User (sendPatchResult)
    expect(ok.headers.get('etag')).toBe('W/"3"');
    expect(ok.body.meta.version).toBe('W/"3"');
  });

  it('PATCH returns the resource when attributes are asked for', async () => {
    const res = await s.scim(`/Users/${id}?attributes=title`, {
      method: 'PATCH',
      body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'Novelist' }] },
    });
    expect(res.status).toBe(200);
    expect(res.body.title).toBe('Novelist');
  });

  it('deletes a user; it is gone and a new user with that userName can be created', async () => {
    expect((await s.scim(`/Users/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await s.scim(`/Users/${id}`)).status).toBe(404);
    expect((await s.scim(`/Users/${id}`, { method: 'DELETE' })).status).toBe(404);
    const again = await s.scim('/Users', { method: 'POST', body: newUser('mary@example.com') });
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(id);
  });

  it('re-provisions a deactivated user on POST instead of answering 409', async () => {
    const first = await s.scim('/Users', { method: 'POST', body: newUser('leaver@example.com') });
    await s.scim(`/Users/${first.body.id}`, {
      method: 'PATCH',
      body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active: false } }] },
    });
    const again = await s.scim('/Users', { method: 'POST', body: newUser('Leaver@example.com', { displayName: 'Back again' }) });
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.active).toBe(true);
    expect(again.body.displayName).toBe('Back again');
  });
});

describe('reconcile markers', () => {
  it('records in the same transaction which users need reconciling, with a timestamp', async () => {
    await s.pool.query('delete from reconcile_queue');
    const res = await s.scim('/Users', { method: 'POST', body: newUser('marked@example.com') });
    const { rows } = await s.pool.query('select organization_id, user_id, changed_at from reconcile_queue where user_id = $1', [res.body.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0].organization_id).toBe(s.organizationId);
    expect(rows[0].changed_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
  });

  it('writes no marker when the request fails', async () => {
    await s.pool.query('delete from reconcile_queue');
    const res = await s.scim('/Users', { method: 'POST', body: newUser('marked@example.com') });
    expect(res.status).toBe(409);
    const { rows } = await s.pool.query('select count(*)::int as n from reconcile_queue');
    expect(rows[0].n).toBe(0);
  });
});
