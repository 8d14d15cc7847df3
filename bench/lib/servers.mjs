// Starting the systems under test: ours (`node dist/main.js start`), the peer (SCIMMY), the
// HTTP target; and seeding users / members directly in SQL (same data shape for ours and peer).
import { writeFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import pg from 'pg';
import { ROOT, runNode, sleep, spawnNode, waitForHttp } from './common.mjs';
import { userBody } from './load.mjs';

/**
 * A SCIM server under test, as scim() and seedOurs()/seedPeer() use it.
 * @typedef {object} ScimSystem
 * @property {import('./common.mjs').Child} child
 * @property {string} url  http://127.0.0.1:<port>
 * @property {(org: string) => string} base  SCIM base path of an organization (the peer has one)
 * @property {Record<string, string>} [tokens]  bearer token per organization (ours)
 * @property {string} [token]  the one bearer token (the peer)
 * @property {string} databaseUrl
 */
/** @typedef {Awaited<ReturnType<typeof startOurs>>} Ours */
/** @typedef {Awaited<ReturnType<typeof startPeer>>} Peer */

/**
 * The port a child prints as its first JSON line ({"port":N}) on stdout.
 * @param {import('./common.mjs').Child} child
 * @param {number} [timeoutMs]
 * @returns {Promise<number>}
 */
async function readPort(child, timeoutMs = 30_000) {
  let buf = '';
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  for await (const chunk of child.stdout) {
    buf += chunk;
    const line = buf.split('\n').find((l) => l.startsWith('{'));
    if (line) {
      clearTimeout(timer);
      child.stdout.resume();
      return JSON.parse(line).port;
    }
  }
  clearTimeout(timer);
  throw new Error(`no port from ${child.spawnargs.join(' ')}: ${child.tail()}`);
}

/**
 * YAML ScimConfig documents for the given organizations ({organization, ...spec}).
 * @param {readonly { organization: string }[]} specs
 * @returns {Promise<string>} the file's path
 */
async function writeConfig(specs) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'scimsync-bench-config-'));
  const file = path.join(dir, 'orgs.yaml');
  const docs = specs.map((spec) => JSON.stringify({ apiVersion: 'scimsync.io/v1alpha1', kind: 'ScimConfig', metadata: { name: spec.organization }, spec }));
  await writeFile(file, docs.join('\n---\n'));
  return file;
}

/**
 * Ours: migrate, start `node dist/main.js start --config <yaml>` on a free port, issue a token
 * per organization (or those in tokensFor). Shipped defaults (LOG_LEVEL=info: one JSON line per request on stderr,
 * read by this process as a log shipper would); `env` adds settings (e.g. RECONCILER_ENABLED).
 * @param {object} options
 * @param {string} options.databaseUrl
 * @param {readonly { organization: string }[]} options.specs  ScimConfig specs
 * @param {NodeJS.ProcessEnv} [options.env]
 * @param {readonly string[]} [options.tokensFor]  organizations to issue a token for (default: all)
 */
export async function startOurs({ databaseUrl, specs, env = {}, tokensFor = specs.map((s) => s.organization) }) {
  // BENCH_OURS_ENV='K=V,K=V': settings for every instance of ours (e.g. TOKEN_CACHE_TTL_MS=0 for an A/B).
  const extra = Object.fromEntries((process.env.BENCH_OURS_ENV ?? '').split(',').filter(Boolean).map((kv) => kv.split('=')));
  const base = { DATABASE_URL: databaseUrl, HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env, ...extra };
  const config = await writeConfig(specs);
  await runNode(['dist/main.js', 'migrate'], base);
  /** @type {typeof import('../../src/store/embedded.js')} */
  const { freePort } = await import(path.join(ROOT, 'dist/store/embedded.js'));
  const port = await freePort();
  // BENCH_CPU_PROF=<dir>: ours writes a V8 CPU profile there when stopped (node --cpu-prof).
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawnNode([...prof, 'dist/main.js', 'start', '--config', config], { ...base, PORT: String(port) }, { name: 'ours' });
  // Generous: scenario 10 declares 5,000 organizations at start-up.
  await waitForHttp(`http://127.0.0.1:${port}/readyz`, child, 600_000);
  /** @type {Record<string, string>} */
  const tokens = {};
  for (const org of tokensFor) tokens[org] = (await runNode(['dist/main.js', 'token', 'create', org], base)).trim();
  return { child, port, url: `http://127.0.0.1:${port}`, tokens, base: (/** @type {string} */ org) => `/scim/v2/${org}`, databaseUrl };
}

/**
 * The peer (bench/peers/scimmy-server.mjs) on a free port, accepting `token`.
 * @param {{ databaseUrl: string, token: string }} options
 */
export async function startPeer({ databaseUrl, token }) {
  const child = spawnNode(['bench/peers/scimmy-server.mjs'], { DATABASE_URL: databaseUrl, PEER_TOKEN: token }, { name: 'peer' });
  const port = await readPort(child);
  return { child, port, url: `http://127.0.0.1:${port}`, token, base: () => '/scim/v2', databaseUrl };
}

/** The HTTP target (bench/lib/targetServer.mjs) on a free port. */
export async function startTarget() {
  const child = spawnNode(['bench/lib/targetServer.mjs'], {}, { name: 'target' });
  const port = await readPort(child);
  return { child, url: `http://127.0.0.1:${port}` };
}

/**
 * One SCIM request; resolves the parsed JSON body (undefined when empty), rejects on a non-2xx.
 * @param {ScimSystem} sys
 * @param {string} org  '' for the peer
 * @param {string} method
 * @param {string} p  path under the organization's SCIM base, e.g. /Users
 * @param {unknown} [body]
 * @param {string} [token]  default: the system's token for `org`
 * @returns {Promise<any>}
 */
export async function scim(sys, org, method, p, body, token) {
  // A 429 is retried after its Retry-After, up to 3 times, as Entra and Okta do: after a c16
  // load the organization's queue may still hold requests the load generator gave up on. The
  // wait counts in a caller's timing, as it would for an IdP.
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${sys.url}${sys.base(org)}${p}`, {
      method,
      headers: { authorization: `Bearer ${token ?? sys.tokens?.[org] ?? sys.token}`, 'content-type': 'application/scim+json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status === 429 && attempt < 3) {
      await sleep(1000 * Math.min(10, Number(res.headers.get('retry-after')) || 1));
      continue;
    }
    if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : undefined;
  }
}

/**
 * Runs `fn` with a connected client of `url`, ended afterwards.
 * @template T
 * @param {string} url
 * @param {(client: pg.Client) => Promise<T>} fn
 * @returns {Promise<T>}
 */
export async function withClient(url, fn) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const BATCH = 10_000;

/**
 * Seeds `count` users `${prefix}${i}@example.com` into our organization in SQL, copying the
 * stored shape of one user created through SCIM (so the rows are exactly what POST stores).
 * Returns the ids in creation order.
 * @param {ScimSystem} ours
 * @param {string} org
 * @param {string} prefix
 * @param {number} count
 * @returns {Promise<string[]>}
 */
export async function seedOurs(ours, org, prefix, count) {
  const template = await scim(ours, org, 'POST', '/Users', userBody(`${prefix}template-`, 0));
  return withClient(ours.databaseUrl, async (c) => {
    /** @type {string[]} */
    const ids = [];
    for (let from = 0; from < count; from += BATCH) {
      const { rows } = await c.query(
        `insert into scim_users (organization_id, user_name, external_id, display_name, active, resource, created_at)
         select t.organization_id, n.un, n.ext, n.dn, true,
                jsonb_set(jsonb_set(jsonb_set(jsonb_set(jsonb_set(t.resource, '{userName}', to_jsonb(n.un)), '{externalId}', to_jsonb(n.ext)),
                  '{displayName}', to_jsonb(n.dn)), '{name,familyName}', to_jsonb('User ' || n.i)), '{emails,0,value}', to_jsonb(n.un)),
                clock_timestamp()
           from scim_users t,
                lateral (select i, $3::text || i || '@example.com' as un, $3::text || '-ext-' || i as ext, 'Bench User ' || i as dn
                           from generate_series($4::int, $5::int) i) n
          where t.id = $1::uuid and t.organization_id = (select id from organizations where slug = $2::text)
          order by n.i
         returning id`,
        [template.id, org, prefix, from, Math.min(count, from + BATCH) - 1],
      );
      for (const r of rows) ids.push(r.id);
    }
    // vacuum too: a directory provisioned over days has had autovacuum set its visibility map, so
    // count(*) can read the index alone (the same for the peer's table below).
    await c.query('vacuum analyze scim_users');
    return ids;
  });
}

/**
 * The same users in the peer's table, shaped as SCIMMY stores a POSTed user.
 * @param {ScimSystem} peer
 * @param {string} prefix
 * @param {number} count
 * @returns {Promise<string[]>}
 */
export async function seedPeer(peer, prefix, count) {
  const template = await scim(peer, '', 'POST', '/Users', userBody(`${prefix}template-`, 0));
  return withClient(peer.databaseUrl, async (c) => {
    /** @type {string[]} */
    const ids = [];
    for (let from = 0; from < count; from += BATCH) {
      const { rows } = await c.query(
        `insert into peer_users (user_name, external_id, resource, created_at)
         select n.un, n.ext,
                jsonb_set(jsonb_set(jsonb_set(jsonb_set(jsonb_set(t.resource, '{userName}', to_jsonb(n.un)), '{externalId}', to_jsonb(n.ext)),
                  '{displayName}', to_jsonb(n.dn)), '{name,familyName}', to_jsonb('User ' || n.i)), '{emails,0,value}', to_jsonb(n.un)),
                clock_timestamp()
           from peer_users t,
                lateral (select i, $2::text || i || '@example.com' as un, $2::text || '-ext-' || i as ext, 'Bench User ' || i as dn
                           from generate_series($3::int, $4::int) i) n
          where t.id = $1::uuid
          order by n.i
         returning id`,
        [template.id, prefix, from, Math.min(count, from + BATCH) - 1],
      );
      for (const r of rows) ids.push(r.id);
    }
    await c.query('vacuum analyze peer_users');
    return ids;
  });
}

export { once };
