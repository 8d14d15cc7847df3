// Connection pool and transaction helper. src/store/ is the only folder that imports pg.
import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

// timestamptz and bigint come back as strings we format ourselves; keep pg from parsing
// timestamps into Date objects that lose microseconds (meta.version and cursors need them).
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, (v) => v);
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

export function makePool(url: string, max = 16): Pool {
  const pool = new pg.Pool({ connectionString: url, max, application_name: 'scimsync' });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  return pool;
}

/** Runs fn in one transaction; rolls back on any error and rethrows it. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** Creates a database if it does not exist (connecting through adminUrl). */
export async function ensureDatabase(adminUrl: string, name: string, template?: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1::text', [name]);
    if (!rowCount) {
      const ident = pg.escapeIdentifier(name);
      await client.query(template ? `create database ${ident} template ${pg.escapeIdentifier(template)}` : `create database ${ident}`);
    }
  } finally {
    await client.end();
  }
}

/** SQLSTATE codes we classify errors by (never by message text). */
export const SQLSTATE = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  invalidTextRepresentation: '22P02',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  lockNotAvailable: '55P03',
} as const;

export const sqlState = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
