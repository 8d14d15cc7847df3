// Streamed list responses (src/http/listStream.ts): a page that spans several chunks keeps the
// requested order, counts itemsPerPage right and carries the same resources as the rows say.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_BYTES, CHUNK_ROWS, chunkKeys } from '../src/http/listStream.js';
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

  it('chunkKeys splits by rows and by approximate bytes, a heavy row alone', () => {
    const k = (id: string, weight: number) => ({ id, createdAtKey: '', weight });
    expect(chunkKeys(Array.from({ length: CHUNK_ROWS + 1 }, (_, i) => k(String(i), 10))).map((c) => c.length)).toEqual([CHUNK_ROWS, 1]);
    const heavy = CHUNK_BYTES + 1;
    expect(chunkKeys([k('a', 10), k('b', heavy), k('c', 10)]).map((c) => c.map((x) => x.id))).toEqual([['a'], ['b'], ['c']]);
    expect(chunkKeys([])).toEqual([]);
  });
});
