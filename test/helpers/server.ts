// A real scimsync HTTP app on 127.0.0.1 over a fresh test database, with an organization
// and a bearer token: what the integration tests talk to.
import { makeLogger } from '../../src/log.js';
import { logSink } from './logScan.js';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { makeApp, type HttpOptions } from '../../src/http/app.js';
import { upsertOrganization } from '../../src/store/orgs.js';
import { createToken } from '../../src/store/tokens.js';
import type { Pool } from '../../src/store/pool.js';
import { createTestDatabase, type TestDatabase } from './db.js';

export interface TestServer {
  url: string;
  /** SCIM base URL of the organization, e.g. http://127.0.0.1:1234/scim/v2/acme */
  baseUrl: string;
  token: string;
  org: string;
  organizationId: string;
  pool: Pool;
  db: TestDatabase;
  /** fetch against baseUrl with the bearer token and SCIM content type. */
  scim(path: string, init?: { method?: string; body?: unknown; headers?: Record<string, string>; raw?: string }): Promise<ScimResponse>;
  close(): Promise<void>;
}

export interface ScimResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export async function startTestServer(opts: { org?: string; spec?: Record<string, unknown>; db?: TestDatabase; maxPayloadBytes?: number; log?: Logger; options?: Partial<HttpOptions> } = {}): Promise<TestServer> {
  const db = opts.db ?? (await createTestDatabase());
  const org = opts.org ?? 'acme';
  const organization = await upsertOrganization(db.pool, { organization: org, ...(opts.spec ?? {}) });
  const { token } = await createToken(db.pool, organization.id);
  const app = makeApp({
    pool: db.pool,
    log: opts.log ?? makeLogger(process.env.TEST_LOG_LEVEL ?? 'info', logSink('server.ts')),
    options: { maxResults: 1000, defaultCount: 100, maxPayloadBytes: opts.maxPayloadBytes ?? 8 * 1024 * 1024, ...opts.options },
  });
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const baseUrl = `${url}/scim/v2/${org}`;
  return {
    url,
    baseUrl,
    token,
    org,
    organizationId: organization.id,
    pool: db.pool,
    db,
    async scim(path, init = {}) {
      const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...(init.headers ?? {}) };
      let body: string | undefined = init.raw;
      if (init.body !== undefined) {
        body = JSON.stringify(init.body);
        headers['content-type'] ??= 'application/scim+json';
      }
      const res = await fetch(path.startsWith('http') ? path : `${baseUrl}${path}`, { method: init.method ?? 'GET', headers, body });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, headers: res.headers, body: parsed, text };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (!opts.db) await db.drop();
    },
  };
}

/**
 * One row of a table-driven SCIM request test. `path` is relative to the organization's SCIM
 * base URL, a function when it needs an id created in beforeAll; `raw` is sent verbatim
 * instead of `body` JSON-encoded.
 */
export interface ScimRequestCase {
  name: string;
  method?: string;
  path: string | (() => string);
  body?: unknown;
  raw?: string;
}

/** The case's path, the function called if it is one. */
export const casePath = (c: ScimRequestCase): string => (typeof c.path === 'function' ? c.path() : c.path);
