// The peer: a SCIM server built on SCIMMY + scimmy-routers (the most used Node SCIM library),
// storing users, groups and members in Postgres the way a competent user of that library
// would: userName unique on lower(user_name) and `userName eq` / `externalId eq` filters
// translated to indexed SQL, index paging in SQL (offset/limit + count), group members in a
// join table written as a diff (not delete-all + re-insert), and PATCH/PUT on a group
// serialised per group by an in-process mutex (SCIMMY's PATCH is read → apply → write, so
// two concurrent PATCHes would otherwise lose a member). Bearer auth: a constant-time
// compare against PEER_TOKEN (no database lookup; ours does one per request).
//   DATABASE_URL=… PEER_TOKEN=… node bench/peers/scimmy-server.mjs   prints {"port":N}
import { createHash, timingSafeEqual } from 'node:crypto';
import express from 'express';
import pg from 'pg';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 16 });
pool.on('error', () => {});
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, (v) => v);

export const SCHEMA = `
create table if not exists peer_users (
  id uuid primary key default gen_random_uuid(),
  user_name text not null,
  external_id text,
  resource jsonb not null,
  created_at timestamptz not null default clock_timestamp(),
  last_modified timestamptz not null default clock_timestamp()
);
create unique index if not exists peer_users_user_name_idx on peer_users (lower(user_name));
create index if not exists peer_users_external_id_idx on peer_users (external_id);
create index if not exists peer_users_list_idx on peer_users (created_at, id);
create table if not exists peer_groups (
  id uuid primary key default gen_random_uuid(),
  display_name text not null,
  resource jsonb not null,
  created_at timestamptz not null default clock_timestamp(),
  last_modified timestamptz not null default clock_timestamp()
);
create table if not exists peer_group_members (
  group_id uuid not null references peer_groups (id) on delete cascade,
  user_id uuid not null references peer_users (id) on delete cascade,
  primary key (group_id, user_id)
);
create index if not exists peer_group_members_user_idx on peer_group_members (user_id);`;

/**
 * A row of peer_users or peer_groups; timestamps stay text (the type parser above), `resource`
 * is the stored SCIM JSON as SCIMMY gave it.
 * @typedef {{ id: string, resource: any, created_at: string, last_modified: string, display_name?: string }} PeerRow
 */
/** @typedef {InstanceType<typeof SCIMMY.Types.Resource>} ScimmyResource */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** @param {string | undefined} id */
// @ts-expect-error null: no scimType (RFC 7644 §3.12 has none for 404), as SCIMMY passes itself; its .d.ts says string.
const notFound = (id) => new SCIMMY.Types.Error(404, null, `Resource ${id} not found`);
/** @type {(o: unknown) => any} */
const plain = (o) => JSON.parse(JSON.stringify(o)); // SCIMMY schema instances → stored JSON

/** @param {PeerRow} r */
const userOut = (r) => ({ ...r.resource, id: r.id, meta: { created: r.created_at, lastModified: r.last_modified } });

/**
 * The single-attribute equality filters we index; anything else is matched by SCIMMY in memory.
 * @param {ScimmyResource['filter']} filter
 * @returns {{ sql: string, value: string } | undefined}
 */
function indexedFilter(filter) {
  if (!filter || filter.length !== 1) return undefined;
  const keys = Object.keys(filter[0]);
  if (keys.length !== 1) return undefined;
  const [op, value] = filter[0][keys[0]];
  if (op !== 'eq' || typeof value !== 'string') return undefined;
  if (keys[0].toLowerCase() === 'username') return { sql: 'lower(user_name) = lower($1::text)', value };
  if (keys[0].toLowerCase() === 'externalid') return { sql: 'external_id = $1::text', value };
  return undefined;
}

/** @param {ScimmyResource} resource */
function page(resource) {
  const c = resource.constraints ?? {};
  return { offset: Math.max(1, c.startIndex ?? 1) - 1, count: c.count ?? 20 }; // 20: SCIMMY's ListResponse default
}

/**
 * Tells SCIMMY the total of a page we paged in SQL (ListResponse reads constraints.totalResults).
 * @param {ScimmyResource} resource
 * @param {number} total
 */
function setTotal(resource, total) {
  resource.constraints = /** @type {NonNullable<ScimmyResource['constraints']> & { totalResults: number }} */ ({ ...(resource.constraints ?? {}), totalResults: total });
}

SCIMMY.Config.set({ patch: true, filter: { supported: true, maxResults: 1000 }, sort: false, etag: false, changePassword: false, bulk: false });

SCIMMY.Resources.declare(SCIMMY.Resources.User)
  .egress(async (resource) => {
    if (resource.id) {
      if (!UUID.test(resource.id)) throw notFound(resource.id);
      const { rows } = await pool.query('select * from peer_users where id = $1::uuid', [resource.id]);
      if (!rows[0]) throw notFound(resource.id);
      return userOut(rows[0]);
    }
    const { offset, count } = page(resource);
    const f = indexedFilter(resource.filter);
    if (f) {
      const { rows } = await pool.query(`select * from peer_users where ${f.sql} order by created_at, id`, [f.value]);
      setTotal(resource, rows.length);
      return rows.slice(offset, offset + count).map(userOut);
    }
    if (resource.filter) {
      // Unindexed filter: SCIMMY evaluates it (a competent user indexes the ones IdPs send).
      const { rows } = await pool.query('select * from peer_users order by created_at, id');
      const hits = resource.filter.match(rows.map(userOut));
      setTotal(resource, hits.length);
      return hits.slice(offset, offset + count);
    }
    const [{ rows: total }, { rows }] = await Promise.all([
      pool.query('select count(*)::int as n from peer_users'),
      pool.query('select * from peer_users order by created_at, id offset $1::int limit $2::int', [offset, count]),
    ]);
    setTotal(resource, total[0].n);
    return rows.map(userOut);
  })
  .ingress(async (resource, instance) => {
    const doc = plain(instance);
    delete doc.id;
    delete doc.meta;
    delete doc.groups;
    try {
      const { rows } = resource.id
        ? await pool.query(
            `update peer_users set user_name = $2::text, external_id = $3::text, resource = $4::jsonb, last_modified = clock_timestamp()
              where id = $1::uuid returning *`,
            [resource.id, doc.userName, doc.externalId ?? null, doc],
          )
        : await pool.query('insert into peer_users (user_name, external_id, resource) values ($1::text, $2::text, $3::jsonb) returning *', [
            doc.userName,
            doc.externalId ?? null,
            doc,
          ]);
      if (!rows[0]) throw notFound(resource.id);
      return userOut(rows[0]);
    } catch (/** @type {any} */ err) {
      if (err?.code === '23505') throw new SCIMMY.Types.Error(409, 'uniqueness', `userName ${doc.userName} already exists`);
      throw err;
    }
  })
  .degress(async (resource) => {
    const { rowCount } = await pool.query('delete from peer_users where id = $1::uuid', [resource.id]);
    if (!rowCount) throw notFound(resource.id);
  });

/**
 * Whether SCIMMY's projection (attributes / excludedAttributes filter) drops `members`.
 * @param {ScimmyResource} resource
 */
function skipsMembers(resource) {
  const a = resource.attributes;
  if (!a) return false;
  return a.some((e) => e.members?.[0] === 'np') || (a.length > 0 && a.every((e) => !e.members));
}

/**
 * @param {PeerRow} r
 * @param {boolean} withMembers
 * @returns {Promise<any>} the group as SCIMMY takes it
 */
async function groupOut(r, withMembers) {
  const out = { ...r.resource, id: r.id, displayName: r.display_name, meta: { created: r.created_at, lastModified: r.last_modified } };
  if (withMembers) {
    const { rows } = await pool.query(
      `select u.id as value, u.user_name as display from peer_group_members m join peer_users u on u.id = m.user_id
        where m.group_id = $1::uuid`,
      [r.id],
    );
    out.members = rows.map((m) => ({ value: m.value, display: m.display, type: 'User' }));
  }
  return out;
}

SCIMMY.Resources.declare(SCIMMY.Resources.Group)
  .egress(async (resource) => {
    if (resource.id) {
      if (!UUID.test(resource.id)) throw notFound(resource.id);
      const { rows } = await pool.query('select * from peer_groups where id = $1::uuid', [resource.id]);
      if (!rows[0]) throw notFound(resource.id);
      return groupOut(rows[0], !skipsMembers(resource));
    }
    const { offset, count } = page(resource);
    const [{ rows: total }, { rows }] = await Promise.all([
      pool.query('select count(*)::int as n from peer_groups'),
      pool.query('select * from peer_groups order by created_at, id offset $1::int limit $2::int', [offset, count]),
    ]);
    setTotal(resource, total[0].n);
    return Promise.all(rows.map((r) => groupOut(r, !skipsMembers(resource))));
  })
  .ingress(async (resource, instance) => {
    const doc = plain(instance);
    const members = [...new Set((doc.members ?? []).map((/** @type {{ value: string }} */ m) => m.value))];
    delete doc.id;
    delete doc.meta;
    delete doc.members;
    const client = await pool.connect();
    try {
      await client.query('begin');
      let row;
      if (resource.id) {
        ({ rows: [row] } = await client.query(
          `update peer_groups set display_name = $2::text, resource = $3::jsonb, last_modified = clock_timestamp() where id = $1::uuid returning *`,
          [resource.id, doc.displayName, doc],
        ));
        if (!row) throw notFound(resource.id);
        // Write the member diff only: rows not in the new list go, new ones come.
        await client.query('delete from peer_group_members where group_id = $1::uuid and not (user_id = any($2::uuid[]))', [row.id, members]);
      } else {
        ({ rows: [row] } = await client.query('insert into peer_groups (display_name, resource) values ($1::text, $2::jsonb) returning *', [doc.displayName, doc]));
      }
      await client.query(
        'insert into peer_group_members (group_id, user_id) select $1::uuid, unnest($2::uuid[]) on conflict do nothing',
        [row.id, members],
      );
      await client.query('commit');
      return { ...(await groupOut(row, false)), members: members.map((value) => ({ value, type: 'User' })) };
    } catch (/** @type {any} */ err) {
      await client.query('rollback').catch(() => {});
      if (err?.code === '23503') throw new SCIMMY.Types.Error(400, 'invalidValue', 'unknown member');
      throw err;
    } finally {
      client.release();
    }
  })
  .degress(async (resource) => {
    const { rowCount } = await pool.query('delete from peer_groups where id = $1::uuid', [resource.id]);
    if (!rowCount) throw notFound(resource.id);
  });

// Per-group mutex for PATCH and PUT: SCIMMY reads the group, applies the operations in memory
// and writes the result, so concurrent writers to one group must take turns.
/** @type {Map<string, Promise<unknown>>} */
const locks = new Map();
/** @type {import('express').RequestHandler<{ id: string }>} */
function serializePerGroup(req, res, next) {
  if (req.method !== 'PATCH' && req.method !== 'PUT') return next();
  const id = req.params.id;
  const prev = locks.get(id) ?? Promise.resolve();
  /** @type {(value?: unknown) => void} */
  let release;
  const mine = new Promise((r) => (release = r));
  const chain = prev.then(() => mine);
  locks.set(id, chain);
  res.once('close', () => {
    release();
    if (locks.get(id) === chain) locks.delete(id);
  });
  prev.then(() => next());
}

const TOKEN_HASH = createHash('sha256').update(process.env.PEER_TOKEN ?? '').digest();
const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.use('/scim/v2/Groups/:id', serializePerGroup);
app.use(
  '/scim/v2',
  new SCIMMYRouters({
    type: 'bearer',
    handler: (req) => {
      const m = /^Bearer\s+(\S+)$/i.exec(req.header('authorization') ?? '');
      if (!m || !timingSafeEqual(createHash('sha256').update(m[1]).digest(), TOKEN_HASH)) throw new Error('invalid token');
      return 'bench';
    },
  }),
);

await pool.query(SCHEMA);
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: /** @type {import('node:net').AddressInfo} */ (server.address()).port })}\n`));
server.keepAliveTimeout = 65_000;
process.once('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
