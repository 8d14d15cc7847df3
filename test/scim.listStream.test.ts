// Streamed list responses (src/http/listStream.ts): a page that spans several chunks keeps the
// requested order, counts itemsPerPage right and carries the same resources as the rows say.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_BYTES, CHUNK_ROWS, chunkKeys } from '../src/http/listStream.js';
import { listUserKeys } from '../src/store/users.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  // 450 users (3 chunks of 200 rows), every 50th one heavy (1.5 MB: chunks also split by size).
  await s.pool.query(
    `insert into scim_users (organization_id, user_name, resource)
     select $1::uuid, 'ls' || lpad(i::text, 4, '0') || '@example.com',
            jsonb_build_object('userName', 'ls' || lpad(i::text, 4, '0') || '@example.com',
                               'nickName', case when i % 50 = 0 then repeat('n', 1500000) else 'n' end)
       from generate_series(1, 450) i`,
    [s.organizationId],
  );
});
afterAll(async () => {
  await s?.close();
});

describe('streamed list responses', () => {
  it('keeps order and counts across chunks (sortBy userName descending, 450 rows)', async () => {
    const res = await s.scim('/Users?count=1000&sortBy=userName&sortOrder=descending&attributes=userName');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect(res.body.totalResults).toBe(450);
    expect(res.body.itemsPerPage).toBe(450);
    expect(res.body.startIndex).toBe(1);
    const names = res.body.Resources.map((r: { userName: string }) => r.userName);
    expect(names[0]).toBe('ls0450@example.com');
    expect(names.at(-1)).toBe('ls0001@example.com');
    expect([...names].sort().reverse()).toEqual(names);
  });

  it('pages by cursor across chunks with nextCursor in the head', async () => {
    const first = await s.scim('/Users?count=300&cursor=&attributes=userName');
    expect(first.body.itemsPerPage).toBe(300);
    expect(typeof first.body.nextCursor).toBe('string');
    const second = await s.scim(`/Users?count=300&cursor=${first.body.nextCursor}&attributes=userName`);
    expect(second.body.itemsPerPage).toBe(150);
    expect(second.body.nextCursor).toBeUndefined();
    const ids = new Set([...first.body.Resources, ...second.body.Resources].map((r: { id: string }) => r.id));
    expect(ids.size).toBe(450);
  });

  it('returns the heavy attribute whole', async () => {
    const res = await s.scim(`/Users?filter=${encodeURIComponent('userName eq "ls0050@example.com"')}`);
    expect(res.body.Resources[0].nickName).toHaveLength(1_500_000);
  });

  it('index pages read keys, count and ordinary rows in one statement, heavy rows apart, and match GET by id', async () => {
    const all: { id: string; nickName: string }[] = [];
    for (const startIndex of [1, 101, 201, 301, 401]) {
      const res = await s.scim(`/Users?startIndex=${startIndex}&count=100`);
      expect(res.status).toBe(200);
      expect(res.body.totalResults).toBe(450);
      expect(res.body.startIndex).toBe(startIndex);
      expect(res.body.itemsPerPage).toBe(startIndex === 401 ? 50 : 100);
      all.push(...res.body.Resources);
    }
    expect(new Set(all.map((r) => r.id)).size).toBe(450);
    expect(all.filter((r) => r.nickName.length === 1_500_000)).toHaveLength(9);
    for (const r of [all[0]!, all.find((x) => x.nickName.length > 1)!, all[449]!]) {
      expect((await s.scim(`/Users/${r.id}`)).body).toEqual(r);
    }
    // Past the end: no rows, so the total comes from a count of its own.
    const past = await s.scim('/Users?startIndex=500&count=100');
    expect(past.body).toMatchObject({ totalResults: 450, itemsPerPage: 0, startIndex: 500 });
  });

  it('rows read with their keys stay within the preload budget; the rest come as keys only', async () => {
    const budget = 450 * 1024;
    const page = await listUserKeys(s.pool, s.organizationId, { startIndex: 1, count: 450 }, true, budget);
    const loaded = page.rows.filter((k) => k.resource != null);
    expect(page.total).toBe(450);
    expect(loaded).toHaveLength(450 - 9); // all but the heavy users
    expect(loaded.reduce((n, k) => n + Number(k.weight), 0)).toBeLessThanOrEqual(budget);
    for (const k of loaded) expect(k.groups).toEqual([]);
    expect(page.rows.filter((k) => k.resource == null).every((k) => Number(k.weight) > budget / 450)).toBe(true);
  });

  it('chunkKeys splits by rows and by approximate bytes, a heavy row alone', () => {
    const k = (id: string, weight: number) => ({ id, createdAtKey: '', weight });
    expect(chunkKeys(Array.from({ length: CHUNK_ROWS + 1 }, (_, i) => k(String(i), 10))).map((c) => c.length)).toEqual([CHUNK_ROWS, 1]);
    const heavy = CHUNK_BYTES + 1;
    expect(chunkKeys([k('a', 10), k('b', heavy), k('c', 10)]).map((c) => c.map((x) => x.id))).toEqual([['a'], ['b'], ['c']]);
    expect(chunkKeys([])).toEqual([]);
  });
});
