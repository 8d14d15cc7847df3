// MIGRATE_ON_START=false, as the Helm chart runs every pod: a process never migrates at start;
// it waits until another process (`scimsync migrate`, the chart's hook Job) has, then starts.
// On a CloudNativePG first install that Job runs after the pods, so the wait is real.
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

async function hasMigrationsTable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ t: string | null }>(`select to_regclass('pgmigrations')::text as t`);
    return rows[0]!.t !== null;
  } finally {
    await client.end();
  }
}

describe('MIGRATE_ON_START=false', () => {
  it('start waits without migrating, and serves once `scimsync migrate` has run', async () => {
    const url = await emptyDatabase(names[0]!);
    // The chart's organizations directory: a ConfigMap that is empty when the operator owns them.
    tmp = await mkdtemp(path.join(os.tmpdir(), 'scimsync-mos-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = cliEnv({ DATABASE_URL: url, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', RECONCILER_ENABLED: 'false', MIGRATE_ON_START: 'false' });
    const server = startCli(['start', '--config', tmp], env);

    await server.waitForStderr((s) => s.includes('waiting for migrations'));
    expect(server.stderr).toContain('1764400000000_init');
    await sleep(500);
    expect(await hasMigrationsTable(url)).toBe(false);
    expect(await fetch(`${base}/healthz`).then(() => 'answered', () => 'refused')).toBe('refused');

    const migrated = await runCli(['migrate'], cliEnv({ DATABASE_URL: url, LOG_LEVEL: 'warn' }));
    expect(migrated.code, migrated.stderr).toBe(0);
    await server.waitForStderr((s) => s.includes('scimsync listening'));
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });

  it('a reconciler waiting for migrations stops at once on SIGTERM', async () => {
    const url = await emptyDatabase(names[1]!);
    const port = await freePort();
    const env = cliEnv({ DATABASE_URL: url, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', MIGRATE_ON_START: 'false' });
    const reconciler = startCli(['reconcile'], env);
    await reconciler.waitForStderr((s) => s.includes('waiting for migrations'));
    const sent = Date.now();
    reconciler.child.kill('SIGTERM');
    const exit = await reconciler.exited;
    expect(Date.now() - sent).toBeLessThan(5000);
    expect(exit.code).toBe(1);
    expect(reconciler.stderr).toContain('stopped while waiting for migrations');
    expect(await hasMigrationsTable(url)).toBe(false);
  });
});
