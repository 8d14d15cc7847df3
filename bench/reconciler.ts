// Reconciler measurements (issue 3). Run with vite-node (TypeScript, no build step for this
// file; the reconciler itself runs as a compiled child process):
//   npx vite-node bench/reconciler.ts latency [--users 200]
//   npx vite-node bench/reconciler.ts resync [--members 100000] [--target postgres|http]
// latency: SCIM PATCH active "False" (Entra) → DELETE received by a real HTTP target, per user,
//          one at a time; also the recorded commit→confirmation latency (reconcile_events).
// resync:  a full pass over an organization of N members with no drift, reconciler process
//          `reconcile --once`; wall time of the pass and the process's peak RSS (/usr/bin/time).
// Uses BENCH_DATABASE_URL when set, else a throwaway embedded PostgreSQL.
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { makeApp } from '../src/http/app.js';
import { startEmbeddedPostgres } from '../src/store/embedded.js';
import { migrate } from '../src/store/migrate.js';
import { upsertOrganization } from '../src/store/orgs.js';
import { makePool } from '../src/store/pool.js';
import { createToken } from '../src/store/tokens.js';
import { startHttpTarget } from '../test/helpers/httpTarget.js';
import { MAIN, buildReconciler, spawnReconciler } from '../test/helpers/reconcilerProcess.js';

const log = pino({ level: 'warn' });
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
const fmt = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms, p90 ${pct(xs, 90).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`;

async function database(): Promise<{ url: string; stop: () => Promise<void> }> {
  let admin = process.env.BENCH_DATABASE_URL;
  let stop = async () => {};
  if (!admin) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'scimsync-bench-rec-'));
    await chmod(dir, 0o755);
    const e = await startEmbeddedPostgres({ dataDir: dir, log, persistent: false, settings: { max_connections: '200' } });
    admin = e.url;
    stop = async () => {
      await e.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const name = `scimsync_bench_reconciler_${process.pid}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`drop database if exists ${name} with (force)`);
  await c.query(`create database ${name}`);
  await c.end();
  const u = new URL(admin);
  u.pathname = `/${name}`;
  await migrate(u.toString(), log);
  return { url: u.toString(), stop };
}

async function latency(): Promise<void> {
  const users = Number(arg('users', '200'));
  const db = await database();
  const pool = makePool(db.url, 8);
  const target = await startHttpTarget();
  // Every user is deactivated in turn: the revocation guard would (rightly) hold most of it.
  const org = await upsertOrganization(pool, { organization: 'acme', revocationGuard: { enabled: false }, target: { type: 'http', http: { baseUrl: target.baseUrl } } });
  const { token } = await createToken(pool, org.id);
  const server = createServer(makeApp({ pool, log, options: { maxResults: 1000, defaultCount: 100, maxPayloadBytes: 1 << 20 } }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/scim/v2/acme`;
  const scim = (p: string, method: string, body: unknown) =>
    fetch(base + p, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: await r.json().catch(() => undefined) }));
  await buildReconciler();
  const proc = spawnReconciler(db.url, { LOG_LEVEL: 'warn' });
  const waitFor = async (cond: () => boolean) => {
    const deadline = Date.now() + 10_000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timeout; reconciler output: ${proc.output.join('').slice(-2000)}; target members ${target.members('acme').length}`);
      await new Promise((r) => setImmediate(r));
    }
  };
  const ids: string[] = [];
  for (let i = 0; i < users; i++) {
    const r = await scim('/Users', 'POST', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `user${i}@bench.example`, active: true });
    ids.push((r.body as { id: string }).id);
  }
  await waitFor(() => target.members('acme').length === users);
  const wall: number[] = [];
  for (let i = 0; i < users; i++) {
    const email = `user${i}@bench.example`;
    const start = performance.now();
    const r = await scim(`/Users/${ids[i]}`, 'PATCH', { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
    if (r.status >= 300) throw new Error(`PATCH ${r.status}`);
    await waitFor(() => target.requests.some((q) => q.method === 'DELETE' && q.email === email && q.status === 204));
    wall.push(performance.now() - start);
  }
  await new Promise((r) => setTimeout(r, 500)); // the last event commits just after its DELETE
  const { rows } = await pool.query<{ ms: number }>(`select latency_ms as ms from reconcile_events where operation = 'revoke' and result = 'ok'`);
  console.log(`SCIM PATCH sent → target DELETE observed (includes the SCIM request): ${fmt(wall)}`);
  console.log(`desired-state commit → target confirmed (reconcile_events.latency_ms): ${fmt(rows.map((r) => r.ms))}`);
  proc.child.kill('SIGTERM');
  await proc.exited;
  server.close();
  await target.close();
  await pool.end();
  await db.stop();
}

async function resync(): Promise<void> {
  const members = Number(arg('members', '100000'));
  const kind = arg('target', 'postgres');
  const db = await database();
  const pool = makePool(db.url, 8);
  const target = kind === 'http' ? await startHttpTarget() : undefined;
  const spec = target ? { target: { type: 'http' as const, http: { baseUrl: target.baseUrl } } } : {};
  const org = await upsertOrganization(pool, { organization: 'big', ...spec });
  let t = performance.now();
  await pool.query(
    `insert into scim_users (organization_id, user_name, display_name, resource)
     select $1::uuid, 'user' || lpad(i::text, 7, '0') || '@bench.example', 'User ' || i, jsonb_build_object('userName', 'user' || i)
       from generate_series(1, $2::int) i`,
    [org.id, members],
  );
  if (target) {
    for (let i = 1; i <= members; i++) target.put('big', { email: `user${String(i).padStart(7, '0')}@bench.example`, role: 'member', teams: [] });
  } else {
    await pool.query(
      `insert into app_memberships (organization, email, role) select 'big', 'user' || lpad(i::text, 7, '0') || '@bench.example', 'member' from generate_series(1, $1::int) i`,
      [members],
    );
  }
  await pool.query(`analyze`);
  console.log(`setup: ${members} users and target members in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  await buildReconciler();
  const runs = Number(arg('runs', '3'));
  for (let run = 1; run <= runs; run++) {
    await pool.query(`insert into reconcile_queue (organization_id, user_id, resync) values ($1, null, true) on conflict do nothing`, [org.id]);
    t = performance.now();
    const { stderr } = await promisify(execFile)('/usr/bin/time', ['-f', 'maxrss_kb=%M', process.execPath, MAIN, 'reconcile', '--once'], {
      env: { PATH: process.env.PATH, DATABASE_URL: db.url, LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0' },
      maxBuffer: 1 << 24,
    });
    const wall = (performance.now() - t) / 1000;
    const st = (await pool.query(`select last_full_sync_seconds as s, last_plan as p from reconcile_status where organization_id = $1`, [org.id])).rows[0];
    const rss = Number(/maxrss_kb=(\d+)/.exec(stderr)?.[1]) / 1024;
    const events = (await pool.query(`select count(*)::int as n from reconcile_events`)).rows[0].n;
    console.log(
      `run ${run}: full resync of ${members} members (target ${kind}, no drift): pass ${st.s.toFixed(2)} s, process wall ${wall.toFixed(2)} s, peak RSS ${rss.toFixed(0)} MB, ` +
        `plan grants=${st.p.grants} updates=${st.p.updates} revocations=${st.p.revocations} unmanaged=${st.p.unmanaged}, events=${events}`,
    );
  }
  await target?.close();
  await pool.end();
  await db.stop();
}

const mode = process.argv[2];
if (mode === 'latency') await latency();
else if (mode === 'resync') await resync();
else {
  console.error('usage: vite-node bench/reconciler.ts latency|resync [options]');
  process.exitCode = 2;
}
