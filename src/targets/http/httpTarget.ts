// The `http` connector: the REST contract in docs/target-http.md. Writes carry an
// Idempotency-Key that stays the same across retries of one operation; 5xx, 408 and network
// errors are retried with exponential backoff and full jitter; 429 and 503 honour Retry-After.
import http from 'node:http';
import https from 'node:https';
import { z } from 'zod';
import type { HttpTargetSpec } from '../../orgs/scimConfig.js';
import { targetRequestsTotal } from '../../metrics.js';
import { readAhead } from '../../pages.js';
import {
  TargetRejectedError,
  TargetRetryLaterError,
  normalizeEmail,
  normalizeTeams,
  type ActualMember,
  type MemberSpec,
  type Target,
  type WriteOptions,
} from '../target.js';

export interface HttpTargetOptions extends HttpTargetSpec {
  organization: string;
  token?: string;
}

const memberSchema = z.object({
  email: z.string().min(1),
  role: z.string(),
  teams: z.array(z.string()).nullish(),
});
const pageSchema = z.object({ members: z.array(memberSchema), nextCursor: z.string().nullish() });

const MAX_BACKOFF_MS = 10_000;

/** Retry-After is delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const toActual = (m: z.infer<typeof memberSchema>): ActualMember => ({
  email: normalizeEmail(m.email),
  role: m.role,
  teams: normalizeTeams(m.teams),
});

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Keep-alive connections to the target, owned by one target instance (destroyed by close()).
 * node:http rather than fetch: fetch (undici) cost 546–617 µs of CPU per call against
 * 201–241 µs for http.request with this agent (GET of one member over loopback, 5,000 calls,
 * 8 at a time), and a deprovisioning wave makes two calls per member (docs/benchmarks.md, 6).
 * At most 8 idle sockets are kept; the target's own keep-alive timeout closes them when idle.
 */
function makeAgent(url: string): http.Agent {
  const options = { keepAlive: true, maxFreeSockets: 8, scheduling: 'lifo' as const };
  return url.startsWith('https:') ? new https.Agent(options) : new http.Agent(options);
}

interface SendOptions {
  method: string;
  headers: Record<string, string>;
  agent: http.Agent;
  /** Whole request, connection to last body byte (ms). */
  timeoutMs: number;
  /** Shutdown: rejects with its reason (the operation is not done, nor failed). */
  signal?: AbortSignal;
}

/**
 * One HTTP exchange. Resolves with the status, body and Retry-After, or with `error` for a
 * network failure or timeout (retryable); rejects only when `signal` aborted it.
 */
export function send(url: string, o: SendOptions, body?: string): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) return reject(o.signal.reason);
    const mod = url.startsWith('https:') ? https : http;
    let timer: NodeJS.Timeout | undefined;
    const done = (a: Attempt) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      resolve(a);
    };
    const req = mod.request(url, { method: o.method, headers: o.headers, agent: o.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), retryAfter: res.headers['retry-after'] ?? null }));
      res.on('error', (error) => done({ error }));
    });
    const onAbort = () => {
      clearTimeout(timer);
      req.destroy();
      reject(o.signal!.reason);
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(() => req.destroy(Object.assign(new Error(`no complete answer within ${o.timeoutMs} ms`), { code: 'ETIMEDOUT' })), o.timeoutMs);
    req.on('error', (error) => done({ error }));
    req.end(body);
  });
}

type Operation = 'list' | 'get' | 'grant' | 'update' | 'revoke';

interface Attempt {
  status?: number;
  body?: string;
  retryAfter?: string | null;
  error?: unknown;
}

export function makeHttpTarget(opts: HttpTargetOptions): Target {
  const base = `${opts.baseUrl.replace(/\/+$/, '')}/orgs/${encodeURIComponent(opts.organization)}/members`;
  const agent = makeAgent(base);
  const count = (operation: Operation, outcome: string, by = 1) => targetRequestsTotal.inc({ target: 'http', operation, outcome }, by);
  // Series exist from the start (at 0), so the first calls show in rate() and error ratios read 0.
  for (const operation of ['list', 'get', 'grant', 'update', 'revoke']) for (const outcome of ['success', 'client_error', 'server_error', 'throttled', 'network_error']) count(operation as Operation, outcome, 0);

  async function once(method: string, url: string, body: unknown, key: string | undefined, signal?: AbortSignal): Promise<Attempt> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (key) headers['idempotency-key'] = key;
    const text = body === undefined ? undefined : JSON.stringify(body);
    if (text !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(text));
    }
    return send(url, { method, headers, agent, timeoutMs: opts.timeout, signal }, text);
  }

  /** One logical request with retries; returns the final 2xx (or accepted 404) attempt. */
  async function request(operation: Operation, method: string, url: string, body?: unknown, key?: string, signal?: AbortSignal, accept404 = false): Promise<Attempt> {
    for (let attempt = 0; ; attempt++) {
      const r = await once(method, url, body, key, signal);
      const status = r.status ?? 0;
      if ((status >= 200 && status < 300) || (accept404 && status === 404)) {
        count(operation, 'success');
        return r;
      }
      const throttled = status === 429 || status === 503;
      const retryable = r.error !== undefined || throttled || status >= 500 || status === 408;
      count(operation, r.error !== undefined ? 'network_error' : throttled ? 'throttled' : status >= 500 ? 'server_error' : 'client_error');
      const what = r.error !== undefined ? `${method} ${url}: ${String((r.error as Error)?.cause ?? r.error)}` : `${method} ${url}: HTTP ${status} ${r.body?.slice(0, 200) ?? ''}`;
      if (!retryable) throw new TargetRejectedError(what, status);
      const hinted = throttled ? parseRetryAfter(r.retryAfter ?? null) : undefined;
      if (hinted !== undefined && hinted > opts.maxRetryAfter) throw new TargetRetryLaterError(what, hinted);
      if (attempt >= opts.maxRetries) {
        if (hinted !== undefined) throw new TargetRetryLaterError(what, hinted);
        throw new Error(`${what} (gave up after ${attempt + 1} attempts)`);
      }
      const backoff = Math.random() * Math.min(MAX_BACKOFF_MS, opts.retryBaseDelay * 2 ** attempt);
      await sleep(hinted ?? backoff, signal);
    }
  }

  const memberUrl = (email: string) => `${base}/${encodeURIComponent(email)}`;
  const put = (operation: 'grant' | 'update') => async (m: MemberSpec, w: WriteOptions) => {
    const body = { email: m.email, role: m.role, teams: m.teams, displayName: m.displayName, externalId: m.externalId };
    await request(operation, 'PUT', memberUrl(m.email), body, w.idempotencyKey, w.signal);
  };

  return {
    kind: 'http',
    supportsTeams: true,
    async *list(signal) {
      // One page is read ahead (readAhead): the target serves the next page while the
      // reconciler merges this one.
      const pages = readAhead<string | undefined, z.infer<typeof pageSchema>>(
        undefined,
        async (cursor) => {
          const url = `${base}?limit=${opts.pageSize}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
          const r = await request('list', 'GET', url, undefined, undefined, signal);
          const page = pageSchema.safeParse(JSON.parse(r.body || 'null'));
          if (!page.success) throw new TargetRejectedError(`GET ${url}: response does not match the contract: ${page.error.message}`);
          return page.data;
        },
        (page) => page.nextCursor || undefined,
      );
      for await (const page of pages) yield page.members.map(toActual);
    },
    async get(email, signal) {
      const r = await request('get', 'GET', memberUrl(email), undefined, undefined, signal, true);
      if (r.status === 404) return undefined;
      const m = memberSchema.safeParse(JSON.parse(r.body || 'null'));
      if (!m.success) throw new TargetRejectedError(`GET ${memberUrl(email)}: response does not match the contract: ${m.error.message}`);
      return toActual(m.data);
    },
    grant: put('grant'),
    update: put('update'),
    async revoke(email, w) {
      await request('revoke', 'DELETE', memberUrl(email), undefined, w.idempotencyKey, w.signal, true);
    },
    async close() {
      agent.destroy();
    },
  };
}
