// The embedded PostgreSQL where a newcomer's first run happens (issue 7, item 8): as root in a
// checkout under a private directory (/root/src/scimsync, mode 0700) the `postgres` user that
// PostgreSQL must run as cannot reach node_modules nor ./.data; and any failure to start the
// database is one sentence naming the cause and the fix. Real binaries, real processes.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedPostgresError, firstUntraversable, packagedBinaries, postgresUser, runnableBinaries, type Binaries, type RunAs } from '../src/store/embeddedHost.js';
import { cliEnv, logLines, runCli } from './helpers/cli.js';

const asRoot = process.getuid?.() === 0;
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'scimsync-embedded-host-'));
  await chmod(tmp, 0o755);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Runs `file --version` as the given user: its exit code and output, or the spawn error's code. */
function versionAs(file: string, runAs: RunAs): Promise<{ code: number | string; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, ['--version'], { uid: runAs.uid, gid: runAs.gid, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', (e: NodeJS.ErrnoException) => resolve({ code: e.code ?? 'error', output }));
    child.once('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

describe('a failure to start the embedded PostgreSQL', () => {
  it('is one sentence naming the cause and the fix, not an unhandled event nor "undefined"', async () => {
    // A data directory open to others (as after a careless copy): postgres refuses it and exits.
    const dataDir = path.join(tmp, 'open-data');
    const pg = path.join(dataDir, 'pg');
    await mkdir(dataDir, { mode: 0o755 });
    await mkdir(pg, { mode: 0o755 });
    await chmod(pg, 0o755);
    await writeFile(path.join(pg, 'PG_VERSION'), '17\n');
    await writeFile(path.join(pg, 'postgresql.conf'), '');
    const runAs = await postgresUser();
    if (runAs) for (const p of [pg, path.join(pg, 'PG_VERSION'), path.join(pg, 'postgresql.conf')]) await chown(p, runAs.uid, runAs.gid);
    const r = await runCli(['migrate'], cliEnv({ DATA_DIR: dataDir, LOG_LEVEL: 'warn' }), { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    const human = r.stderr.split('\n').filter((l) => l && !l.startsWith('{'));
    expect(human).toHaveLength(1);
    expect(human[0]).toContain(`the embedded PostgreSQL in ${pg} stopped during start-up (exit 1: FATAL: data directory "${pg}" has invalid permissions DETAIL: Permissions should be u=rwx (0700) or u=rwx,g=rx (0750)): fix what it says`);
    expect(human[0]).toContain('or set DATABASE_URL to use a PostgreSQL of your own');
    expect(r.stderr).not.toMatch(/undefined|Unhandled|node:events/);
  });
});

describe.runIf(asRoot)('as root, under a directory the postgres user cannot traverse (mode 0700)', () => {
  let runAs: RunAs;
  let source: Binaries;
  let cacheRoot: string;

  beforeAll(async () => {
    runAs = (await postgresUser())!;
    // The packaged binaries, placed as a checkout under /root/src would hold them.
    const priv = await mkdtemp(path.join(tmp, 'private-'));
    expect((await stat(priv)).mode & 0o777).toBe(0o700);
    const packaged = (await packagedBinaries()).binaries;
    await cp(packaged.root, path.join(priv, 'native'), { recursive: true, verbatimSymlinks: true });
    source = { root: path.join(priv, 'native'), initdb: path.join(priv, 'native', 'bin', 'initdb'), postgres: path.join(priv, 'native', 'bin', 'postgres') };
    // A shared temp directory like /tmp: world-writable and sticky.
    cacheRoot = path.join(tmp, 'shared-tmp');
    await mkdir(cacheRoot);
    await chmod(cacheRoot, 0o1777);
  });

  it('the binaries under it cannot be run as postgres (the fault), and runnableBinaries gives a copy that can', async () => {
    expect((await versionAs(source.postgres, runAs)).code).toBe('EACCES');
    const { binaries, copied } = await runnableBinaries({ source, key: 'v1', runAs, cacheRoot });
    expect(copied).toBe(true);
    expect(binaries.root).toBe(path.join(cacheRoot, 'scimsync-postgres-v1'));
    const info = await lstat(binaries.root);
    expect(info.isDirectory()).toBe(true);
    expect(info.uid).toBe(0);
    expect(info.mode & 0o7777).toBe(0o755);
    for (const file of [binaries.postgres, binaries.initdb]) {
      const v = await versionAs(file, runAs);
      expect(v, file).toEqual({ code: 0, output: expect.stringMatching(/\(PostgreSQL\) \d+/) });
    }
    // No staging directory is left behind.
    expect(existsSync(path.join(cacheRoot, 'scimsync-postgres-v1'))).toBe(true);
    const again = await runnableBinaries({ source, key: 'v1', runAs, cacheRoot });
    expect(again.binaries.root).toBe(binaries.root);
  });

  it('processes starting together share one complete copy', async () => {
    const all = await Promise.all([1, 2, 3].map(() => runnableBinaries({ source, key: 'together', runAs, cacheRoot })));
    for (const r of all) expect(r.binaries.root).toBe(path.join(cacheRoot, 'scimsync-postgres-together'));
    expect((await versionAs(all[0]!.binaries.postgres, runAs)).code).toBe(0);
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(cacheRoot)).filter((n) => n.startsWith('scimsync-postgres-together'))).toEqual(['scimsync-postgres-together']);
  });

  it('an incomplete copy of ours (a temp cleaner took files) is made again', async () => {
    const { binaries } = await runnableBinaries({ source, key: 'cleaned', runAs, cacheRoot });
    await rm(path.join(binaries.root, '.complete'));
    await rm(binaries.postgres);
    const again = await runnableBinaries({ source, key: 'cleaned', runAs, cacheRoot });
    expect((await versionAs(again.binaries.postgres, runAs)).code).toBe(0);
  });

  it('refuses a planted symlink or a directory of another user at the cache path, touching neither', async () => {
    const elsewhere = path.join(tmp, 'attacker');
    await mkdir(elsewhere);
    await symlink(elsewhere, path.join(cacheRoot, 'scimsync-postgres-planted'));
    const planted = runnableBinaries({ source, key: 'planted', runAs, cacheRoot });
    await expect(planted).rejects.toBeInstanceOf(EmbeddedPostgresError);
    await expect(planted).rejects.toThrow(/scimsync-postgres-planted exists and is not a directory \(a symlink or a file\): remove it/);
    expect((await lstat(path.join(cacheRoot, 'scimsync-postgres-planted'))).isSymbolicLink()).toBe(true);
    expect(existsSync(path.join(elsewhere, 'bin'))).toBe(false);

    const foreign = path.join(cacheRoot, 'scimsync-postgres-foreign');
    await mkdir(foreign);
    await chown(foreign, runAs.uid, runAs.gid);
    await expect(runnableBinaries({ source, key: 'foreign', runAs, cacheRoot })).rejects.toThrow(`${foreign} exists but belongs to uid ${runAs.uid}, not to us: remove it`);
    expect(existsSync(path.join(foreign, 'bin'))).toBe(false);
  });

  it('a path that only leads there through a symlink counts as closed', async () => {
    const priv = await mkdtemp(path.join(tmp, 'behind-link-'));
    await mkdir(path.join(priv, 'data'));
    const open = await mkdtemp(path.join(tmp, 'open-'));
    await chmod(open, 0o755);
    await symlink(path.join(priv, 'data'), path.join(open, 'data'));
    expect(await firstUntraversable(path.join(open, 'data'), runAs)).toBe(priv);
    expect(await firstUntraversable(open, runAs)).toBeUndefined();
  });

  it('scimsync with DATA_DIR under it runs its database from a reachable directory, and says so', { timeout: 90_000 }, async () => {
    const priv = await mkdtemp(path.join(tmp, 'checkout-'));
    const dataDir = path.join(priv, '.data');
    const fallback = path.join(os.tmpdir(), `scimsync-pg-${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`);
    try {
      const r = await runCli(['migrate'], cliEnv({ DATA_DIR: dataDir, LOG_LEVEL: 'info' }), { timeoutMs: 80_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(logLines(r.stderr)).toContainEqual(
        expect.objectContaining({ msg: 'the postgres user cannot reach the data directory; using another', requested: dataDir, dataDir: fallback, closed: priv }),
      );
      const dir = await lstat(fallback);
      expect([dir.isDirectory(), dir.uid, dir.mode & 0o7777]).toEqual([true, 0, 0o755]);
      const cluster = await stat(path.join(fallback, 'pg'));
      expect([cluster.uid, cluster.mode & 0o777]).toEqual([runAs.uid, 0o700]);
      expect((await readFile(path.join(fallback, 'pg', 'PG_VERSION'), 'utf8')).trim()).toMatch(/^\d+$/);
    } finally {
      await rm(fallback, { recursive: true, force: true });
    }
  });
});
