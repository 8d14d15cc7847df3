// Losing the database is a 503, never a crash or a 500 (issue 10). Real failures only: a port
// nothing listens on, a server that accepts and never answers, and a backend terminated by
// the administrator (pg_terminate_backend, the 57P01 a restart or failover sends).
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { makeApp } from '../src/http/app.js';
import { DatabaseUnavailableError, isDatabaseUnavailable } from '../src/store/errors.js';
import { freePort } from '../src/store/embedded.js';
import { makePool, withTransaction, type Pool } from '../src/store/pool.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { ERROR_SCHEMA } from '../src/scim/errors.js';

const log = pino({ level: 'silent' });
let db: TestDatabase;
let blackhole: TcpServer;
const sockets: Socket[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  // Accepts connections and never says a word: a database host that is up but stuck.
  blackhole = createTcpServer((s) => void sockets.push(s));
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => blackhole.close(r));
  await db.drop();
});

async function serveApp(pool: Pool) {
  const server = createServer(makeApp({ pool, log, options: { maxResults: 100, defaultCount: 10, maxPayloadBytes: 1024 * 1024 } }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

const scimToken = 'scimsync_abcdefghij_' + 'a'.repeat(43);

describe('the database is unavailable', () => {
  it('connection refused: SCIM answers 503 with Retry-After and a SCIM error; /readyz fails; /healthz does not', async () => {
    const pool = makePool(`postgres://postgres@127.0.0.1:${await freePort()}/none`, 2);
    const app = await serveApp(pool);
    try {
      const res = await fetch(`${app.url}/scim/v2/acme/Users`, { method: 'POST', headers: { authorization: `Bearer ${scimToken}`, 'content-type': 'application/scim+json' }, body: JSON.stringify({ userName: 'a@x.io' }) });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      const body = (await res.json()) as { schemas: string[]; status: string; detail: string };
      expect(body.schemas).toEqual([ERROR_SCHEMA]);
      expect(body.status).toBe('503');
      expect(body.detail).toMatch(/temporarily unavailable/);
      expect((await fetch(`${app.url}/readyz`)).status).toBe(503);
      expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    } finally {
      await app.close();
      await pool.end();
    }
  });

  it('a server that never answers: the checkout gives up after connectionTimeoutMillis (503, no hang)', async () => {
    const pool = makePool(`postgres://postgres@127.0.0.1:${(blackhole.address() as AddressInfo).port}/none`, { max: 2, connectionTimeoutMillis: 300 });
    const app = await serveApp(pool);
    try {
      const started = Date.now();
      const res = await fetch(`${app.url}/scim/v2/acme/Users`, { headers: { authorization: `Bearer ${scimToken}` } });
      expect(res.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await app.close();
      await pool.end();
    }
  });

  it('a checked-out connection terminated by the administrator (57P01) neither crashes nor leaks: the next query is DatabaseUnavailableError', async () => {
    const pool = makePool(db.url, 2);
    try {
      const err = await withTransaction(pool, async (client) => {
        const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
        // Between two queries of a transaction (as while a target call is awaited), the
        // server ends the session: pg emits 'error' on the idle client. Unowned, that
        // 'error' killed the process.
        await db.pool.query('select pg_terminate_backend($1)', [rows[0].pid]);
        await new Promise((r) => setTimeout(r, 200));
        return client.query('select 1');
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DatabaseUnavailableError);
      // The broken client was discarded: the pool serves the next query.
      expect((await pool.query('select 1 as one')).rows[0].one).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('classifies by SQLSTATE class and socket code, never an error of the statement itself', () => {
    const withCode = (code: string) => Object.assign(new Error('x'), { code });
    for (const code of ['08006', '08001', '57P01', '57P02', '57P03', '53300', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']) expect(isDatabaseUnavailable(withCode(code)), code).toBe(true);
    for (const code of ['23505', '40P01', '22P02', '42P01', '57014']) expect(isDatabaseUnavailable(withCode(code)), code).toBe(false);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('syntax error'))).toBe(false);
  });
});
