// MIGRATE_ON_START=false, as the Helm chart runs every pod: a process never migrates at start,
// /readyz answers 503 while migrations are pending, and the hook Job's `scimsync migrate`
// (which always migrates) makes it ready without a restart.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../src/store/embedded.js';
import { cliEnv, killAllCli, runCli, sleep, startCli } from './helpers/cli.js';

const adminUrl = inject('adminUrl');
const names = [0, 1].map(() => `scimsync_mos_${randomBytes(6).toString('hex')}`);
let tmp: string | undefined;

afterAll(async () => {
  await killAllCli();
  if (tmp) await rm(tmp, { recursive: true, force: true });
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  for (const name of names) await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
});

/** A new, empty (un-migrated) database. */
async function emptyDatabase(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  return Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
}

/** Polls /readyz until the process answers at all. */
async function firstReadyz(base: string) {
  for (let i = 0; i < 200; i++) {
    const r = await readyz(base).catch(() => undefined);
    if (r) return r;
    await sleep(50);
  }
  throw new Error(`${base} never answered`);
}

async function readyz(base: string): Promise<{ status: number; body: { status: string; pending?: string[] } }> {
  const r = await fetch(`${base}/readyz`);
  return { status: r.status, body: (await r.json()) as { status: string; pending?: string[] } };
}

describe('MIGRATE_ON_START=false', () => {
  it('start leaves an empty database alone and is unready until `scimsync migrate` runs', async () => {
    const url = await emptyDatabase(names[0]!);
    // The chart's organizations directory: a ConfigMap that is empty when the operator owns them.
    tmp = await mkdtemp(path.join(os.tmpdir(), 'scimsync-mos-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = cliEnv({ DATABASE_URL: url, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', RECONCILER_ENABLED: 'false', MIGRATE_ON_START: 'false' });
    const server = startCli(['start', '--config', tmp], env);

    const first = await firstReadyz(base);
    expect(first.status).toBe(503);
    expect(first.body.status).toBe('migrations pending');
    expect(first.body.pending).toContain('1764400000000_init');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ t: string | null }>(`select to_regclass('pgmigrations')::text as t`);
      expect(rows[0]!.t).toBeNull();
    } finally {
      await client.end();
    }

    const migrated = await runCli(['migrate'], env);
    expect(migrated.code, migrated.stderr).toBe(0);
    const after = await readyz(base);
    expect(after).toEqual({ status: 200, body: { status: 'ready' } });
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });

  it('a reconciler started before the migrations retries, and is ready once they ran (the CloudNativePG first install)', async () => {
    const url = await emptyDatabase(names[1]!);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = cliEnv({ DATABASE_URL: url, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'error', MIGRATE_ON_START: 'false', RECONCILER_POLL_MS: '100' });
    const reconciler = startCli(['reconcile'], env);
    expect((await firstReadyz(base)).status).toBe(503);
    // It keeps polling (and logging why it cannot work yet) instead of exiting.
    await reconciler.waitForStderr((s) => s.includes('does not exist'));
    const migrated = await runCli(['migrate'], env);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(await readyz(base)).toEqual({ status: 200, body: { status: 'ready' } });
    await sleep(300); // a poll that failed just before the migration committed may still be logging
    const errorsAfterMigration = reconciler.stderr.length;
    await sleep(1000);
    expect(reconciler.stderr.slice(errorsAfterMigration)).not.toContain('does not exist');
    reconciler.child.kill('SIGTERM');
    expect((await reconciler.exited).code).toBe(0);
  });
});
