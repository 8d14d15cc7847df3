// A real HTTP server on 127.0.0.1 implementing the target contract (docs/target-http.md) over
// an in-memory membership store. It records every request and can inject failures (5xx, 429
// with Retry-After), latency and a broken sort order, and it measures how many writes to one
// member were ever in flight at once.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TargetMember {
  email: string;
  role: string;
  teams: string[];
  displayName?: string | null;
  externalId?: string | null;
}

export interface RecordedRequest {
  method: string;
  path: string;
  org: string;
  email?: string;
  body?: any;
  headers: IncomingHttpHeaders;
  status: number;
  at: number;
}

export interface Fault {
  status: number;
  /** Retry-After header value. */
  retryAfter?: string;
  /** Only requests with this method fail (default: any). */
  method?: string;
}

export interface HttpTargetServer {
  baseUrl: string;
  requests: RecordedRequest[];
  /** Successful PUT/DELETE requests, optionally for one organization. */
  writes(org?: string): RecordedRequest[];
  members(org: string): TargetMember[];
  /** Changes behind the IdP's back. */
  put(org: string, m: TargetMember): void;
  remove(org: string, email: string): void;
  /** The next `count` matching requests fail with the fault (and change nothing). */
  failNext(count: number, fault: Fault): void;
  latencyMs: number;
  /** Serve list pages out of email order (contract violation). */
  unsorted: boolean;
  /**
   * Misbehaviour for every request while set: 'down' resets the connection (a crashed
   * service), 'hang' never answers, 'garbage' answers 200 with a body that is not JSON.
   */
  mode: 'normal' | 'down' | 'hang' | 'garbage';
  /** Highest number of writes for one member seen in flight at the same time. */
  maxConcurrentWrites: number;
  /** Resolves once `n` successful writes have been seen. */
  waitForWrites(n: number, timeoutMs?: number, org?: string): Promise<RecordedRequest[]>;
  reset(): void;
  close(): Promise<void>;
}

const byEmail = (a: TargetMember, b: TargetMember) => (Buffer.compare(Buffer.from(a.email), Buffer.from(b.email)));

export async function startHttpTarget(opts: { token?: string } = {}): Promise<HttpTargetServer> {
  const orgs = new Map<string, Map<string, TargetMember>>();
  const sortedCache = new Map<string, TargetMember[]>();
  /** Writes go through the returned map's set/delete, which drop the sorted cache. */
  const store = (org: string) => {
    let m = orgs.get(org);
    if (!m) {
      m = new Map();
      const set = m.set.bind(m);
      const del = m.delete.bind(m);
      m.set = (k, v) => (sortedCache.delete(org), set(k, v));
      m.delete = (k) => (sortedCache.delete(org), del(k));
      orgs.set(org, m);
    }
    return m;
  };
  const sortedOf = (org: string) => sortedCache.get(org) ?? sortedCache.set(org, [...store(org).values()].sort(byEmail)).get(org)!;
  const faults: (Fault & { left: number })[] = [];
  const inflight = new Map<string, number>();
  const waiters: (() => void)[] = [];

  const server: Server = createServer(async (req, res) => {
    if (t.mode === 'down') return void req.socket.destroy();
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/orgs\/([^/]+)\/members(?:\/([^/]+))?$/.exec(url.pathname);
    const org = m ? decodeURIComponent(m[1]) : '';
    const email = m?.[2] ? decodeURIComponent(m[2]) : undefined;
    let body: any;
    try {
      body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    } catch {
      body = undefined;
    }
    const rec: RecordedRequest = { method: req.method ?? '', path: url.pathname + url.search, org, email, body, headers: req.headers, status: 0, at: Date.now() };
    t.requests.push(rec);
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      rec.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(payload === undefined ? '' : JSON.stringify(payload));
      if (status < 300 && (rec.method === 'PUT' || rec.method === 'DELETE')) waiters.splice(0).forEach((w) => w());
    };
    const write = rec.method === 'PUT' || rec.method === 'DELETE';
    const key = `${org}/${email}`;
    if (write) {
      const n = (inflight.get(key) ?? 0) + 1;
      inflight.set(key, n);
      t.maxConcurrentWrites = Math.max(t.maxConcurrentWrites, n);
    }
    try {
      if (t.latencyMs) await new Promise((r) => setTimeout(r, t.latencyMs));
      if (t.mode === 'hang') return void (await new Promise(() => {}));
      if (t.mode === 'garbage') {
        rec.status = 200;
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end('<html>502 Bad Gateway</html>');
      }
      if (!m) return send(404, { error: 'no such route' });
      if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) return send(401, { error: 'unauthorized' });
      const fault = faults.find((f) => f.left > 0 && (!f.method || f.method === rec.method));
      if (fault) {
        fault.left--;
        return send(fault.status, { error: 'injected' }, fault.retryAfter ? { 'retry-after': fault.retryAfter } : {});
      }
      const members = store(org);
      if (rec.method === 'GET' && !email) {
        const limit = Number(url.searchParams.get('limit') ?? 100);
        const after = url.searchParams.get('cursor') ? Buffer.from(url.searchParams.get('cursor')!, 'base64url').toString('utf8') : '';
        const all = sortedOf(org);
        let lo = 0; // first member after the cursor (binary search: benchmarks list 100,000 members)
        for (let hi = all.length; lo < hi; ) {
          const mid = (lo + hi) >> 1;
          if (Buffer.compare(Buffer.from(all[mid].email), Buffer.from(after)) > 0) hi = mid;
          else lo = mid + 1;
        }
        const page = all.slice(lo, lo + limit);
        const last = page.at(-1);
        const more = lo + limit < all.length;
        if (t.unsorted) page.reverse();
        return send(200, {
          members: page.map((x) => ({ email: x.email, role: x.role, teams: x.teams })),
          nextCursor: more && last ? Buffer.from(last.email).toString('base64url') : null,
        });
      }
      if (!email) return send(405);
      if (rec.method === 'GET') {
        const x = members.get(email.toLowerCase());
        return x ? send(200, { email: x.email, role: x.role, teams: x.teams }) : send(404, { error: 'not a member' });
      }
      if (rec.method === 'PUT') {
        if (!body || typeof body.role !== 'string' || body.email?.toLowerCase() !== email.toLowerCase()) return send(400, { error: 'bad member' });
        const existed = members.has(email.toLowerCase());
        members.set(email.toLowerCase(), { email: email.toLowerCase(), role: body.role, teams: body.teams ?? [], displayName: body.displayName, externalId: body.externalId });
        return send(existed ? 200 : 201, body);
      }
      if (rec.method === 'DELETE') {
        return members.delete(email.toLowerCase()) ? send(204) : send(404, { error: 'not a member' });
      }
      return send(405);
    } finally {
      if (write) inflight.set(key, (inflight.get(key) ?? 1) - 1);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const t: HttpTargetServer = {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: [],
    writes: (org) => t.requests.filter((r) => (r.method === 'PUT' || r.method === 'DELETE') && r.status >= 200 && r.status < 300 && (!org || r.org === org)),
    members: (org) => [...store(org).values()].sort(byEmail),
    put: (org, m) => void store(org).set(m.email, m),
    remove: (org, email) => void store(org).delete(email),
    failNext: (count, fault) => void faults.push({ ...fault, left: count }),
    latencyMs: 0,
    unsorted: false,
    mode: 'normal',
    maxConcurrentWrites: 0,
    async waitForWrites(n, timeoutMs = 10_000, org) {
      const deadline = Date.now() + timeoutMs;
      while (t.writes(org).length < n) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} writes; saw ${t.writes(org).length}: ${JSON.stringify(t.writes(org).map((w) => `${w.method} ${w.path}`))}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
      return t.writes(org);
    },
    reset() {
      t.requests.length = 0;
      faults.length = 0;
      t.maxConcurrentWrites = 0;
      t.latencyMs = 0;
      t.unsorted = false;
      t.mode = 'normal';
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return t;
}
