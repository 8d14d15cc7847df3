// The verified-token cache (src/store/tokenCache.ts) across real processes: two
// `scimsync start` children on one database, a token warmed into both caches, then revoked
// (or its organization deleted, its expiry moved, or the listener connections killed). Each
// test records when the change committed and polls both processes; every request sent 100 ms
// or more after the commit must be refused.
import { freePort } from '../src/store/embedded.js';
import { deleteOrganization } from '../src/store/orgs.js';
import { createToken, revokeToken } from '../src/store/tokens.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, killAllCli, sleep, startCli, waitForOk } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

let db: TestDatabase;
let bases: string[] = [];
let organizationId: string;

const LISTENERS = `select pid from pg_stat_activity where application_name = 'scimsync-token-listen' and datname = current_database()`;

beforeAll(async () => {
  db = await createTestDatabase();
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    // This file polls with revoked tokens hundreds of times from one address: the failed-auth
    // limiter (src/http/authLimiter.ts, tested in security.authLimit.test.ts) would answer 429
    // after 30 of them, so it is raised out of the way here.
    const env = cliEnv({
      DATABASE_URL: db.url, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', RECONCILER_ENABLED: 'false',
      AUTH_FAILURE_LIMIT_PER_ADDRESS: '1000000', AUTH_FAILURE_LIMIT_PER_ORGANIZATION: '1000000',
    });
    const server = startCli(['start'], env);
    await waitForOk(`http://127.0.0.1:${port}/readyz`, server);
    bases.push(`http://127.0.0.1:${port}/scim/v2/demo`);
  }
  organizationId = (await db.pool.query<{ id: string }>(`select id from organizations where slug = 'demo'`)).rows[0]!.id;
  await waitForListeners(2);
}, 60_000);

afterAll(async () => {
  await killAllCli();
  await db?.drop();
});

async function waitForListeners(n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await db.pool.query(`${LISTENERS} and query like 'listen%'`)).rowCount !== n) {
    if (Date.now() > deadline) throw new Error(`expected ${n} token listeners`);
    await sleep(20);
  }
}

const status = async (base: string, token: string) =>
  (await fetch(`${base}/Users?count=1`, { headers: { authorization: `Bearer ${token}` } })).status;

/** A new token, accepted (and so cached) by both processes. */
async function warmToken(opts: { expiresAt?: Date } = {}): Promise<{ token: string; prefix: string }> {
  const t = await createToken(db.pool, organizationId, opts);
  for (const base of bases) for (let i = 0; i < 3; i++) expect(await status(base, t.token)).toBe(200);
  return t;
}

/**
 * Polls every process until it refuses the token; returns, per process, how long after
 * `since` the last accepted request was sent (0 when none was).
 */
async function lastAcceptedAfter(token: string, since: number, forMs = 400): Promise<number[]> {
  return Promise.all(
    bases.map(async (base) => {
      let last = 0;
      while (Date.now() - since < forMs) {
        const sent = Date.now();
        if ((await status(base, token)) === 200) last = sent - since;
      }
      return last;
    }),
  );
}

describe('token cache with revocation by NOTIFY', () => {
  it('serves a cached token without Postgres: a change made with the triggers off is not seen until the entry expires (≤ TOKEN_CACHE_TTL_MS)', async () => {
    const { token, prefix } = await warmToken();
    const client = await db.pool.connect();
    try {
      // session_replication_role=replica disables triggers: a revocation nobody is told about.
      await client.query(`set session_replication_role = replica`);
      await client.query(`update scim_tokens set revoked_at = now() where prefix = $1::text`, [prefix]);
      await client.query(`set session_replication_role = origin`);
    } finally {
      client.release();
    }
    const since = Date.now();
    // Still accepted from the caches (proof that requests do not look the token up) …
    for (const base of bases) expect(await status(base, token)).toBe(200);
    // … but never past the entry's bound (5 s default, + 1 s for a loaded machine).
    const last = await lastAcceptedAfter(token, since, 6500);
    for (const ms of last) expect(ms).toBeLessThan(6000);
    for (const base of bases) expect(await status(base, token)).toBe(401);
  }, 20_000);

  it('refuses a revoked token in every process within 100 ms', async () => {
    const { token, prefix } = await warmToken();
    expect(await revokeToken(db.pool, organizationId, prefix)).toBe(true);
    const last = await lastAcceptedAfter(token, Date.now());
    for (const ms of last) expect(ms).toBeLessThan(100);
    for (const base of bases) expect(await status(base, token)).toBe(401);
  });

  it('refuses within 100 ms when expires_at is moved to now, and when the organization’s row is deleted', async () => {
    const { token, prefix } = await warmToken();
    await db.pool.query(`update scim_tokens set expires_at = now() where prefix = $1::text`, [prefix]);
    let last = await lastAcceptedAfter(token, Date.now());
    for (const ms of last) expect(ms).toBeLessThan(100);

    const second = await warmToken();
    await db.pool.query(`delete from organizations where id = $1::uuid`, [organizationId]);
    last = await lastAcceptedAfter(second.token, Date.now());
    for (const ms of last) expect(ms).toBeLessThan(100);
    // Recreate the organization for the tests after this one.
    await db.pool.query(`insert into organizations (id, slug) values ($1::uuid, 'demo')`, [organizationId]);
  });

  it('refuses within 100 ms when the organization is deleted the way `scimsync org delete` and the operator do (deleted_at + tokens revoked)', async () => {
    const { token } = await warmToken();
    expect((await deleteOrganization(db.pool, 'demo', 'test')).status).toBe('deleted');
    const last = await lastAcceptedAfter(token, Date.now());
    for (const ms of last) expect(ms).toBeLessThan(100);
    await db.pool.query(`update organizations set deleted_at = null where id = $1::uuid`, [organizationId]);
  });

  it('never serves an entry past the token’s expires_at', async () => {
    const expiresAt = new Date(Date.now() + 1500);
    const { token } = await warmToken({ expiresAt });
    const last = await lastAcceptedAfter(token, expiresAt.getTime() - 500, 800);
    for (const ms of last) expect(ms).toBeLessThan(600);
  });

  it('fails closed while the notification connection is re-established (pg_terminate_backend), and caches again afterwards', async () => {
    const { token, prefix } = await warmToken();
    // Kill both listeners and revoke in the same transaction: the NOTIFY goes out at commit,
    // when no process is listening, so only bypassing the cache can refuse the token.
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      const { rowCount } = await client.query(`select pg_terminate_backend(pid) from (${LISTENERS}) l`);
      expect(rowCount).toBe(2);
      await client.query(`update scim_tokens set revoked_at = now() where prefix = $1::text`, [prefix]);
      await client.query('commit');
    } finally {
      client.release();
    }
    const last = await lastAcceptedAfter(token, Date.now());
    for (const ms of last) expect(ms).toBeLessThan(100);

    // Reconnected: a new token is cached again, and a revocation reaches both again.
    await waitForListeners(2);
    const again = await warmToken();
    expect(await revokeToken(db.pool, organizationId, again.prefix)).toBe(true);
    const after = await lastAcceptedAfter(again.token, Date.now());
    for (const ms of after) expect(ms).toBeLessThan(100);
  });
});
