// A real HTTP target (the contract in docs/target-http.md) for scenarios 6 and 7, run as its
// own process so that load generation never delays the moment a DELETE is recorded.
// In memory; list pages in email byte order from a sorted array kept between writes.
//   node bench/lib/targetServer.mjs     prints {"port":N} on stdout once listening
// Bench-only control routes under /_bench/: seed, drift, deletes, count.
import { createServer } from 'node:http';

/** @typedef {{ email: string, role: string, teams: string[] }} Member */

const now = () => performance.timeOrigin + performance.now();
/** @type {Map<string, Map<string, Member>>} */
const orgs = new Map(); // org -> Map(email -> member)
/** @type {Map<string, string[]>} */
const sorted = new Map(); // org -> sorted email array (cache, dropped on every write)
/** @type {Map<string, Map<string, number>>} */
const deletes = new Map(); // org -> Map(email -> time the DELETE arrived)
/** @type {(org: string) => Map<string, Member>} */
const store = (org) => orgs.get(org) ?? /** @type {Map<string, Member>} */ (orgs.set(org, new Map()).get(org));
/** @type {(org: string) => string[]} */
const keys = (org) => sorted.get(org) ?? /** @type {string[]} */ (sorted.set(org, [...store(org).keys()].sort()).get(org)); // ASCII emails: code unit order = byte order

/**
 * Index of the first element of the sorted `arr` greater than `after`.
 * @param {readonly string[]} arr
 * @param {string} after
 */
function firstAfter(arr, after) {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid] <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const server = createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
  const url = new URL(req.url ?? '/', 'http://x');
  /** @type {(status: number, payload?: unknown) => void} */
  const send = (status, payload) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(payload === undefined ? '' : JSON.stringify(payload));
  };
  const c = /^\/_bench\/(\w+)$/.exec(url.pathname);
  if (c) {
    const org = url.searchParams.get('org') ?? body?.org;
    if (c[1] === 'seed') {
      const m = store(org);
      for (let i = 0; i < body.count; i++) {
        const email = `${body.prefix}${i}@example.com`;
        m.set(email, { email, role: body.role ?? 'member', teams: [] });
      }
      sorted.delete(org);
      return send(200, { count: m.size });
    }
    if (c[1] === 'drift') {
      // Removes every `every`-th member: drift the next full resync must repair with grants.
      const arr = keys(org);
      let removed = 0;
      for (let i = 0; i < arr.length; i += body.every) (store(org).delete(arr[i]), removed++);
      sorted.delete(org);
      return send(200, { removed });
    }
    if (c[1] === 'deletes') return send(200, Object.fromEntries(deletes.get(org) ?? []));
    if (c[1] === 'count') return send(200, { count: store(org).size, deletes: deletes.get(org)?.size ?? 0 });
    return send(404);
  }
  const m = /^\/orgs\/([^/]+)\/members(?:\/([^/]+))?$/.exec(url.pathname);
  if (!m) return send(404, { error: 'no such route' });
  const org = decodeURIComponent(m[1]);
  const email = m[2] ? decodeURIComponent(m[2]).toLowerCase() : undefined;
  const members = store(org);
  if (!email) {
    if (req.method !== 'GET') return send(405);
    const limit = Number(url.searchParams.get('limit') ?? 100);
    const cursor = url.searchParams.get('cursor');
    const arr = keys(org);
    const from = cursor ? firstAfter(arr, Buffer.from(cursor, 'base64url').toString('utf8')) : 0;
    const page = arr.slice(from, from + limit).map((e) => members.get(e));
    const more = from + limit < arr.length;
    return send(200, { members: page, nextCursor: more ? Buffer.from(/** @type {Member} */ (page.at(-1)).email).toString('base64url') : null });
  }
  if (req.method === 'GET') return members.has(email) ? send(200, members.get(email)) : send(404, { error: 'not a member' });
  if (req.method === 'PUT') {
    if (!members.has(email) && sorted.has(org)) {
      const arr = /** @type {string[]} */ (sorted.get(org));
      arr.splice(firstAfter(arr, email), 0, email); // keep the order without re-sorting 100,000 keys
    }
    members.set(email, { email, role: body.role, teams: body.teams ?? [] });
    return send(200, members.get(email));
  }
  if (req.method === 'DELETE') {
    const t = now();
    const d = deletes.get(org) ?? /** @type {Map<string, number>} */ (deletes.set(org, new Map()).get(org));
    if (!d.has(email)) d.set(email, t);
    const had = members.delete(email);
    if (had && sorted.has(org)) {
      const arr = /** @type {string[]} */ (sorted.get(org));
      const i = firstAfter(arr, email) - 1;
      if (arr[i] === email) arr.splice(i, 1);
    }
    return send(had ? 204 : 404);
  }
  return send(405);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: /** @type {import('node:net').AddressInfo} */ (server.address()).port })}\n`));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
