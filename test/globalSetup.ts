// Starts the database the whole test run uses: TEST_DATABASE_URL when set (any Postgres the
// machine has), otherwise a throwaway embedded PostgreSQL. A template database is migrated
// once; each test file clones it (test/helpers/db.ts), as graphile-worker's tests do.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import pg from 'pg';
import { pino } from 'pino';
import { startEmbeddedPostgres } from '../src/store/embedded.js';
import { migrate } from '../src/store/migrate.js';

export const TEMPLATE_DB = 'scimsync_test_template';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    templateDb: string;
  }
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

export default async function setup(project: TestProject) {
  const log = pino({ level: 'warn' });
  let adminUrl = process.env.TEST_DATABASE_URL;
  let stop = async () => {};
  if (!adminUrl) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'scimsync-test-'));
    await chmod(dir, 0o755); // the postgres user (when we run as root) must reach it
    const embedded = await startEmbeddedPostgres({
      dataDir: dir,
      log,
      persistent: false,
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '300' },
    }).catch(async (e: unknown) => {
      await rm(dir, { recursive: true, force: true });
      // Said here too: a reporter that swallows a failed global setup still leaves the reason.
      process.stderr.write(`\nthe tests need a database and none could be started: ${e instanceof Error ? e.message : String(e)}\n(or set TEST_DATABASE_URL to a PostgreSQL the tests may create databases in)\n\n`);
      throw e;
    });
    adminUrl = embedded.url;
    stop = async () => {
      await embedded.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  // Drop leftovers of an earlier, interrupted run against a shared server.
  await admin.query(`drop database if exists ${TEMPLATE_DB} with (force)`);
  await admin.query(`create database ${TEMPLATE_DB}`);
  await admin.end();
  await migrate(withDatabase(adminUrl, TEMPLATE_DB), log);
  project.provide('adminUrl', adminUrl);
  project.provide('templateDb', TEMPLATE_DB);
  return stop;
}
