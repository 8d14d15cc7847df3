// npm run bench [-- --quick] [-- --runs N] [-- --only 1,2,6]   (scenarios 1–10)
// Measures scimsync (a real `node dist/main.js start` process) against the Postgres limit
// (bare node-postgres SQL) and a peer (SCIMMY + scimmy-routers over the same Postgres), in the
// same run on the same machine, and prints ours ÷ limit and ours ÷ peer per scenario (medians
// of the runs). Writes bench/results/latest.json. See docs/benchmarks.md.
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execSync } from 'node:child_process';
import { ROOT, freshDatabase, loadavg, serverVersion, startPostgres, stopAllChildren, stopChild } from './lib/common.mjs';
import { startOurs, startPeer } from './lib/servers.mjs';
import { ingressScenarios } from './scenarios/ingress.mjs';
import { bigGroupScenario } from './scenarios/bigGroup.mjs';
import { latencyScenario } from './scenarios/latency.mjs';
import { resyncScenario } from './scenarios/resync.mjs';
import { scaleScenario } from './scenarios/scale.mjs';
import { manyOrgsScenario } from './scenarios/manyOrgs.mjs';
import { LIMIT_SCHEMA, makeLimitPool } from './lib/limit.mjs';
import { printTable } from './lib/report.mjs';

/**
 * What the scenarios get: the sizes of this mode (P), a progress line writer (say) and where
 * notes for the report go. Scenarios 1–5 share ours, the peer and the limit's pool.
 * @typedef {typeof P} BenchParams
 * @typedef {(message: string) => void} Say
 * @typedef {{ adminUrl: string, P: BenchParams, say: Say, notes: string[] }} ScenarioContext
 * @typedef {{ ours: import('./lib/servers.mjs').Ours, peer: import('./lib/servers.mjs').Peer, limitPool: import('pg').Pool, P: BenchParams, say: Say, want: (scenario: number) => boolean }} SharedContext
 */

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
/** @param {string} name */
const arg = (name) => {
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  return argv[i].includes('=') ? argv[i].split('=')[1] : argv[i + 1];
};
const only = arg('only') ? new Set(/** @type {string} */ (arg('only')).split(',').map(Number)) : undefined;
/** @param {number} n */
const want = (n) => !only || only.has(n);

const P = quick
  ? { runs: 1, duration: 1.5, users: 1_000, patchAmount16: 300, patchAmount1: 100, bigGroup: 5_000, deactivations: 200, rate: 200, resyncMembers: 5_000, resyncRuns: 1,
      scaleSmall: 1_000, scaleLarge: 20_000, scaleLatencyRequests: 20, orgs: 50 }
  : { runs: 3, duration: 5, users: 10_000, patchAmount16: 1_000, patchAmount1: 300, bigGroup: 100_000, deactivations: 2_000, rate: 200, resyncMembers: 100_000, resyncRuns: 3,
      scaleSmall: 10_000, scaleLarge: 1_000_000, scaleLatencyRequests: 200, orgs: 5_000 };
if (arg('runs')) P.runs = Math.max(1, Number(arg('runs')));

const log = /** @type {typeof import('../src/log.js')} */ (await import(path.join(ROOT, 'dist/log.js'))).makeLogger('warn');
/** @param {string} m */
const say = (m) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

const machine = {
  cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}`,
  memoryGb: +(os.totalmem() / 2 ** 30).toFixed(1),
  node: process.version,
  os: `${os.type()} ${os.release()}`,
  commit: (() => {
    try {
      return execSync('git rev-parse --short HEAD', { cwd: ROOT }).toString().trim();
    } catch {
      return null;
    }
  })(),
};
/**
 * What bench/results/*.json holds: the report's fields (those in Partial<> filled in as the run
 * goes) and the run's parameters.
 * @typedef {import('./lib/report.mjs').BenchResult} BenchResult
 * @typedef {Omit<BenchResult, Later> & Partial<Pick<BenchResult, Later>> & { params: BenchParams, uptimeBefore: number }} RunResult
 * @typedef {'postgres' | 'loadAfter' | 'seconds' | 'medianNote'} Later
 */
/** @type {RunResult} */
const result = { mode: quick ? 'quick' : 'full', params: P, machine, loadBefore: loadavg(), uptimeBefore: os.uptime(), rows: [], notes: [] };
say(`mode ${result.mode}; load before ${JSON.stringify(result.loadBefore)}`);
const started = Date.now();
const pgServer = await startPostgres(log);
// Interrupted (Ctrl-C, timeout, kill): stop every child and the embedded Postgres before going,
// so an interrupted run leaves no process behind.
for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.once(sig, () => {
    say(`${sig}: stopping children and postgres`);
    void stopAllChildren()
      .then(() => pgServer.stop())
      .catch(() => {})
      .finally(() => process.exit(130));
  });
}
result.postgres = { kind: pgServer.kind, version: await serverVersion(pgServer.adminUrl) };
say(`postgres: ${result.postgres.kind} ${result.postgres.version}`);

try {
  const rows = result.rows;
  if ([1, 2, 3, 4, 5, 8].some(want)) {
    const oursDb = await freshDatabase(pgServer.adminUrl, 'bench_ours');
    const peerDb = await freshDatabase(pgServer.adminUrl, 'bench_peer');
    const limitDb = await freshDatabase(pgServer.adminUrl, 'bench_limit');
    const specs = ['s1', 's2', 's3', 's5'].map((organization) => ({ organization }));
    // Ingress alone: the reconciler has its own scenarios (6, 7).
    const ours = await startOurs({ databaseUrl: oursDb, specs, env: { RECONCILER_ENABLED: 'false' } });
    const peer = await startPeer({ databaseUrl: peerDb, token: 'peer-bench-token-0123456789' });
    const limitPool = makeLimitPool(limitDb);
    await limitPool.query(LIMIT_SCHEMA);
    try {
      const ctx = { ours, peer, limitPool, P, say, want };
      if ([1, 2, 3, 4, 8].some(want)) rows.push(...(await ingressScenarios(ctx)));
      if (want(5)) rows.push(...(await bigGroupScenario(ctx)));
    } finally {
      await limitPool.end();
      await stopChild(ours.child);
      await stopChild(peer.child);
    }
  }
  if (want(6)) rows.push(...(await latencyScenario({ adminUrl: pgServer.adminUrl, P, say, notes: result.notes })));
  if (want(7)) rows.push(...(await resyncScenario({ adminUrl: pgServer.adminUrl, P, say, notes: result.notes })));
  if (want(9)) rows.push(...(await scaleScenario({ adminUrl: pgServer.adminUrl, P, say, notes: result.notes })));
  if (want(10)) rows.push(...(await manyOrgsScenario({ adminUrl: pgServer.adminUrl, P, say, notes: result.notes })));
} finally {
  await stopAllChildren();
  await pgServer.stop().catch((e) => say(`stopping postgres: ${e}`));
}

result.loadAfter = loadavg();
result.seconds = Math.round((Date.now() - started) / 1000);
result.medianNote = `medians of ${P.runs} run(s) per system, systems interleaved within each run`;
printTable(/** @type {BenchResult} */ (result)); // complete by now
await mkdir(path.join(ROOT, 'bench/results'), { recursive: true });
// latest.json is what `node bench/table.mjs` renders; a full run (the one docs/benchmarks.md
// quotes) is also kept under its commit, and both are committed with the doc's table.
const outs = [path.join(ROOT, 'bench/results/latest.json')];
if (!quick && !only) outs.push(path.join(ROOT, `bench/results/full-${machine.commit ?? 'unknown'}.json`));
for (const out of outs) await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
say(`wrote ${outs.map((o) => path.relative(ROOT, o)).join(', ')} in ${result.seconds} s; load after ${JSON.stringify(result.loadAfter)}`);

