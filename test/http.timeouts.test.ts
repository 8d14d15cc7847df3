// Slow clients cannot hold connections (issue 10): request headers and bodies that trickle in
// are cut after HTTP_HEADERS_TIMEOUT_MS / HTTP_REQUEST_TIMEOUT_MS (408), not after Node's
// default 300 s. A real client on loopback sends one byte at a time.
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { makeApp } from '../src/http/app.js';
import { makeServer } from '../src/http/server.js';
import { loadConfig } from '../src/config.js';
import { upsertOrganization } from '../src/store/orgs.js';
import { createToken } from '../src/store/tokens.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

let db: TestDatabase;
let port: number;
let close: () => Promise<void>;

beforeAll(async () => {
  db = await createTestDatabase();
  const app = makeApp({ pool: db.pool, log: pino({ level: 'silent' }), options: { maxResults: 100, defaultCount: 10, maxPayloadBytes: 1024 * 1024 } });
  const c = loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '1500', HTTP_HEADERS_TIMEOUT_MS: '800' });
  const server = makeServer(app, { requestTimeoutMs: c.HTTP_REQUEST_TIMEOUT_MS, headersTimeoutMs: c.HTTP_HEADERS_TIMEOUT_MS, keepAliveTimeoutMs: c.HTTP_KEEP_ALIVE_TIMEOUT_MS });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  close = () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r())));
});
afterAll(async () => {
  await close();
  await db.drop();
});

/** Sends the first `atOnce` bytes of `head`, then the rest and `body` one byte every `everyMs`; resolves with what the server said and when it closed. */
function trickle(head: string, body: string, everyMs: number, atOnce = 0): Promise<{ answer: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1', () => socket.write(head.slice(0, atOnce)));
    const bytes = [...head.slice(atOnce), ...body];
    let answer = '';
    const timer = setInterval(() => {
      const b = bytes.shift();
      if (b === undefined) clearInterval(timer);
      else if (socket.writable) socket.write(b);
    }, everyMs);
    socket.on('data', (d) => (answer += String(d)));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer, ms: Date.now() - started });
    });
  });
}

describe('request and header timeouts', () => {
  it('request headers sent a byte every 100 ms are cut after HTTP_HEADERS_TIMEOUT_MS', async () => {
    const head = `GET /scim/v2/acme/Users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${'x'.repeat(60)}\r\n\r\n`;
    const { answer, ms } = await trickle(head, '', 100);
    expect(answer).toMatch(/^HTTP\/1.1 408/);
    expect(ms).toBeLessThan(3000);
  });

  it('a request body sent a byte every 100 ms is cut after HTTP_REQUEST_TIMEOUT_MS', async () => {
    // An authenticated request, so the body is read (authentication comes first).
    const org = await upsertOrganization(db.pool, { organization: 'acme' });
    const { token } = await createToken(db.pool, org.id);
    const body = JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'slow@example.com', displayName: 'x'.repeat(200) });
    const head = `POST /scim/v2/acme/Users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/scim+json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const { answer, ms } = await trickle(head, body, 100, head.length);
    expect(answer).toMatch(/^HTTP\/1.1 408/);
    expect(ms).toBeGreaterThanOrEqual(1400);
    expect(ms).toBeLessThan(3500); // the body alone would take 25 s at this pace
    expect((await db.pool.query(`select 1 from scim_users where user_name = 'slow@example.com'`)).rowCount).toBe(0);
  });
});
