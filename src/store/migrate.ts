// Applies the plain-SQL, up-only migrations in ./migrations with node-pg-migrate.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readdir } from 'node:fs/promises';
import { runner } from 'node-pg-migrate';
import type { Logger } from 'pino';
import { makeClient, sqlState, type Queryable } from './pool.js';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');
const MIGRATIONS_TABLE = 'pgmigrations';

export async function migrate(databaseUrl: string, log: Logger): Promise<string[]> {
  // Our client, not one node-pg-migrate creates: its 'error' event is owned (makeClient), so a
  // database going away during start-up fails the command instead of crashing it.
  const client = makeClient(databaseUrl, 'scimsync-migrate');
  await client.connect();
  const ran = await runner({
    dbClient: client,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: MIGRATIONS_TABLE,
    singleTransaction: true,
    checkOrder: true,
    // Replicas and CLI commands migrate at start, possibly at once: the later ones wait for the
    // first (then find nothing pending) instead of failing with "Another migration is already running".
    advisoryLockMode: 'wait',
    log: () => {},
    logger: { debug: () => {}, info: () => {}, warn: (m: string) => log.warn(m), error: (m: string) => log.error(m) },
  }).finally(() => client.end().catch(() => {}));
  const names = ran.map((m) => m.name);
  if (names.length) log.info({ migrations: names }, 'migrations applied');
  return names;
}

/** Migration names not yet applied to the database (used by /readyz). */
export async function pendingMigrations(db: Queryable): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).map((f) => f.replace(/\.sql$/, ''));
  let applied: string[] = [];
  try {
    const { rows } = await db.query<{ name: string }>(`select name from ${MIGRATIONS_TABLE}`);
    applied = rows.map((r) => r.name);
  } catch (err) {
    // No migrations table yet: nothing applied. Any other failure (the database is down) is
    // the caller's to report, not "every migration pending".
    if (sqlState(err) === '42P01') return files;
    throw err;
  }
  return files.filter((f) => !applied.includes(f));
}

/**
 * Resolves once no migration is pending, polling every intervalMs (ms). For processes that do
 * not migrate themselves (MIGRATE_ON_START=false): the Helm chart applies migrations in a hook
 * Job, which on a CloudNativePG first install runs after the pods start. Logs once while
 * waiting. Rejects with "stopped while waiting for migrations" when the signal aborts.
 */
export async function waitForMigrations(db: Queryable, log: Logger, signal?: AbortSignal, intervalMs = 2000): Promise<void> {
  let logged = false;
  for (;;) {
    if (signal?.aborted) throw new Error('stopped while waiting for migrations');
    const pending = await pendingMigrations(db);
    if (!pending.length) {
      if (logged) log.info('migrations applied by another process; starting');
      return;
    }
    if (!logged) {
      log.warn({ pending }, 'waiting for migrations: run `scimsync migrate` (the Helm chart runs it as a hook Job)');
      logged = true;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, intervalMs);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
