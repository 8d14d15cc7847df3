// Applies the plain-SQL, up-only migrations in ./migrations with node-pg-migrate.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readdir } from 'node:fs/promises';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Queryable } from './pool.js';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');
const MIGRATIONS_TABLE = 'pgmigrations';

export async function migrate(databaseUrl: string, log: Logger): Promise<string[]> {
  // Our own client, ended and awaited here: node-pg-migrate's own is ended without waiting, so
  // a command that stops the embedded PostgreSQL right after migrating (`scimsync migrate`) had
  // that connection terminated by the server (57P01) and crashed on its unhandled 'error' event.
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', (err) => log.debug({ err }, 'migration connection closed by the server'));
  await client.connect();
  let ran;
  try {
    ran = await migrateWith(client, log);
  } finally {
    await client.end();
  }
  const names = ran.map((m) => m.name);
  if (names.length) log.info({ migrations: names }, 'migrations applied');
  return names;
}

function migrateWith(client: pg.Client, log: Logger) {
  return runner({
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
  });
}

/** Migration names not yet applied to the database (used by /readyz). */
export async function pendingMigrations(db: Queryable): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).map((f) => f.replace(/\.sql$/, ''));
  let applied: string[] = [];
  try {
    const { rows } = await db.query<{ name: string }>(`select name from ${MIGRATIONS_TABLE}`);
    applied = rows.map((r) => r.name);
  } catch {
    return files;
  }
  return files.filter((f) => !applied.includes(f));
}
