// A/B of two configurations of ours, back to back, for measuring one change on a noisy machine:
//   node bench/ab.mjs [--a 'K=V,K=V'] [--b 'K=V,...'] [--a-root DIR] [--b-root DIR]
//                     [--case lookup|post|page|patch|member] [--conc 16] [--rounds 5] [--duration 3] [--users 10000]
// Both run as `node <root>/dist/main.js start` (ingress only, LOG_LEVEL=info unless overridden)
// on one fresh database; each round loads A then B (then B then A, alternating the order) with
// autocannon at c16 (--conc); prints each round's A/B ratio, their median and the load average.
// Besides req/s (which a loaded machine makes noisy), per request: the server process's CPU
// time (utime+stime from /proc, ms), Postgres's CPU time (all its processes) and Postgres transactions (pg_stat_database.xact_commit,
// i.e. statements outside a transaction block), which contention does not distort.
// --a-root/--b-root: another checkout (built) to compare code rather than settings.
// --b-peer: B is the bench's peer (bench/peers/scimmy-server.mjs, on a database of its own in
// the same Postgres) instead of ours, for --case post and lookup: the same per-request CPU
// figures for both, which is what explains a ratio on this 2-core machine (docs/benchmarks.md).
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import pg from 'pg';
import path from 'node:path';
import { freshDatabase, loadavg, median, ROOT, startPostgres, stopAllChildren, runNode, spawnNode, waitForHttp } from './lib/common.mjs';
import { load, userBody } from './lib/load.mjs';
import { scim, seedOurs, seedPeer, startPeer } from './lib/servers.mjs';

const argv = process.argv.slice(2);
/**
 * The value after `--<name>`, else `dflt`.
 * @template {string | number | undefined} [D=undefined]
 * @param {string} name
 * @param {D} [dflt]
 * @returns {string | D}
 */
const arg = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? /** @type {D} */ (dflt) : argv[i + 1];
};
/** @param {string | undefined} s  'K=V,K=V' */
const envOf = (s) => Object.fromEntries((s ?? '').split(',').filter(Boolean).map((kv) => kv.split('=')));
const which = arg('case', 'lookup');
const rounds = Number(arg('rounds', 5));
const duration = Number(arg('duration', 3));
const users = Number(arg('users', 10_000));
const conc = Number(arg('conc', 16));
/** @param {string} m */
const say = (m) => process.stderr.write(`[ab ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

const log = /** @type {typeof import('../src/log.js')} */ (await import(path.join(ROOT, 'dist/log.js'))).makeLogger('warn');
const pgServer = await startPostgres(log);
const dbUrl = await freshDatabase(pgServer.adminUrl, `bench_ab_${randomBytes(4).toString('hex')}`);

/**
 * One configuration of ours, started from the build in `root` with `extra` settings.
 * @param {string} name
 * @param {string} root
 * @param {NodeJS.ProcessEnv} extra
 */
async function start(name, root, extra) {
  const env = { DATABASE_URL: dbUrl, HOST: '127.0.0.1', LOG_LEVEL: 'info', RECONCILER_ENABLED: 'false', ...extra };
  await runNode([path.join(root, 'dist/main.js'), 'migrate'], env);
  /** @type {typeof import('../src/store/embedded.js')} */
  const { freePort } = await import(path.join(ROOT, 'dist/store/embedded.js'));
  const port = await freePort();
  // AB_CPU_PROF=<dir>: the servers write V8 CPU profiles there when stopped (node --cpu-prof).
  const prof = process.env.AB_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.AB_CPU_PROF}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  const child = spawnNode([...prof, path.join(root, 'dist/main.js'), 'start'], { ...env, PORT: String(port) }, { name });
  await waitForHttp(`http://127.0.0.1:${port}/readyz`, child);
  const token = (await runNode([path.join(root, 'dist/main.js'), 'token', 'create', 'demo'], env)).trim();
  return { child, url: `http://127.0.0.1:${port}`, tokens: { demo: token }, token, base: () => '/scim/v2/demo', databaseUrl: dbUrl };
}

/** The peer as system B: its own database, seeded with the same users. */
async function startPeerB() {
  if (which !== 'post' && which !== 'lookup') throw new Error('--b-peer: only --case post and lookup');
  const databaseUrl = await freshDatabase(pgServer.adminUrl, `bench_ab_peer_${randomBytes(4).toString('hex')}`);
  const peer = await startPeer({ databaseUrl, token: 'peer-ab-token-0123456789' });
  await seedPeer(peer, 'abu', users);
  return { ...peer, tokens: { demo: peer.token } };
}

try {
  const A = await start('A', path.resolve(arg('a-root', ROOT)), envOf(arg('a')));
  const B = argv.includes('--b-peer') ? await startPeerB() : await start('B', path.resolve(arg('b-root', ROOT)), envOf(arg('b')));
  say(`seeding ${users} users`);
  const ids = await seedOurs(A, 'demo', 'abu', users);
  const newGroup = (/** @type {string} */ name) => scim(A, 'demo', 'POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: name });
  const group = await newGroup('ab');
  // --case member: each system adds members to a group of its own, a different user each time
  // (scenario 3's Entra "Add members" body), so no PATCH is a no-op.
  const memberGroups = { A: await newGroup('abA'), B: await newGroup('abB') };
  const memberNext = { A: 0, B: 0 };
  /** @param {number} n */
  const pick = (n) => (n * 7919) % users;
  /**
   * @param {Awaited<ReturnType<typeof start>>} sys
   * @param {string} tag
   */
  const run = (sys, tag) => {
    const common = { url: sys.url, token: sys.token, duration, connections: conc };
    const base = sys.base();
    if (which === 'lookup') return load({ ...common, path: (n) => `${base}/Users?filter=${encodeURIComponent(`userName eq "abu${pick(n)}@example.com"`)}` });
    if (which === 'page') return load({ ...common, path: '/scim/v2/demo/Users?startIndex=1&count=100' });
    if (which === 'post') return load({ ...common, method: 'POST', path: `${base}/Users`, body: (n) => userBody(`ab${tag}-`, n) });
    if (which === 'patch') {
      /** @param {number} n */
      const op = (n) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'displayName', value: `g${tag}${n}` }] });
      return load({ ...common, method: 'PATCH', path: `/scim/v2/demo/Groups/${group.id}`, body: op });
    }
    if (which === 'member') {
      const k = /** @type {'A' | 'B'} */ (tag[0]);
      const op = () => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'Add', path: 'members', value: [{ value: ids[(memberNext[k]++ * 2 + (k === 'A' ? 0 : 1)) % ids.length] }] }] });
      return load({ ...common, method: 'PATCH', path: `/scim/v2/demo/Groups/${memberGroups[k].id}`, body: op });
    }
    throw new Error(`unknown --case ${which}`);
  };
  const stats = new pg.Client({ connectionString: dbUrl });
  await stats.connect();
  /** @param {number | undefined} pid */
  const cpuMs = async (pid) => {
    const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, USER_HZ = 100
  };
  // Postgres's CPU (ms): the postmaster with its reaped children, plus every live child
  // (backends, WAL writer, ...). The backends are the ones both systems' pools keep open.
  const postmaster = Number((await readFile(`/proc/${(await stats.query('select pg_backend_pid() as pid')).rows[0].pid}/stat`, 'utf8')).split(') ')[1].split(' ')[1]);
  const pgCpuMs = async () => {
    const f = (await readFile(`/proc/${postmaster}/stat`, 'utf8')).split(') ')[1].split(' ');
    let ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    for (const pid of await readdir('/proc').catch(() => [])) {
      if (!/^\d+$/.test(pid)) continue;
      const st = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      const g = st.split(') ')[1]?.split(' ');
      if (g && Number(g[1]) === postmaster) ticks += Number(g[11]) + Number(g[12]);
    }
    return (ticks * 1000) / 100;
  };
  // Each system's own database (the peer has one of its own).
  const statsB = B.databaseUrl === dbUrl ? stats : new pg.Client({ connectionString: B.databaseUrl });
  if (statsB !== stats) await statsB.connect();
  /** @param {'A' | 'B'} k */
  const xacts = async (k) => {
    const c = k === 'A' ? stats : statsB;
    await c.query('select pg_stat_clear_snapshot()');
    return Number((await c.query('select xact_commit from pg_stat_database where datname = current_database()')).rows[0].xact_commit);
  };
  /** @type {Record<'A' | 'B', { cpu: number[], pg: number[], xact: number[] }>} */
  const per = { A: { cpu: [], pg: [], xact: [] }, B: { cpu: [], pg: [], xact: [] } };
  const ratios = [];
  /** @type {Record<'A' | 'B', number[]>} */
  const rps = { A: [], B: [] };
  for (let r = 0; r < rounds; r++) {
    /** @type {('A' | 'B')[]} */
    const order = r % 2 ? ['B', 'A'] : ['A', 'B'];
    /** @type {Record<string, number>} */
    const got = {};
    for (const k of order) {
      const sys = k === 'A' ? A : B;
      const [c0, p0, x0] = [await cpuMs(sys.child.pid), await pgCpuMs(), await xacts(k)];
      const res = await run(sys, `${k}${r}`);
      await new Promise((r) => setTimeout(r, 600)); // pg_stat counters are flushed at most every 0.5 s
      const [c1, p1, x1] = [await cpuMs(sys.child.pid), await pgCpuMs(), await xacts(k)];
      const n = res.ok + res.non2xx;
      per[k].cpu.push((c1 - c0) / n);
      per[k].pg.push((p1 - p0) / n);
      per[k].xact.push((x1 - x0 - 2) / n);
      if (res.errors || res.non2xx) say(`${k}: ${res.errors} errors, ${res.non2xx} non-2xx`);
      got[k] = res.rps;
      rps[k].push(res.rps);
    }
    ratios.push(got.A / got.B);
    say(
      `round ${r + 1}: A ${got.A.toFixed(0)}/s ${per.A.cpu.at(-1)?.toFixed(2)} cpu-ms/req pg ${per.A.pg.at(-1)?.toFixed(2)} ${per.A.xact.at(-1)?.toFixed(2)} xact/req | ` +
        `B ${got.B.toFixed(0)}/s ${per.B.cpu.at(-1)?.toFixed(2)} cpu-ms/req pg ${per.B.pg.at(-1)?.toFixed(2)} ${per.B.xact.at(-1)?.toFixed(2)} xact/req | A/B rps ${(got.A / got.B).toFixed(3)}  load ${JSON.stringify(loadavg())}`,
    );
  }
  const out = { case: which, a: arg('a') ?? '', b: arg('b') ?? '', aRoot: arg('a-root') ?? '.', bRoot: arg('b-root') ?? '.', rounds, duration, users, medianA: median(rps.A), medianB: median(rps.B), medianRatio: median(ratios), ratios,
    cpuMsPerRequest: { A: median(per.A.cpu), B: median(per.B.cpu), ratio: Number(median(per.A.cpu)) / Number(median(per.B.cpu)) },
    postgresCpuMsPerRequest: { A: median(per.A.pg), B: median(per.B.pg) },
    xactPerRequest: { A: median(per.A.xact), B: median(per.B.xact) }, load: loadavg() };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  await stats.end();
  if (statsB !== stats) await statsB.end();
} finally {
  await stopAllChildren();
  await pgServer.stop().catch(() => {});
}
