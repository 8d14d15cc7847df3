// Connection pool and transaction helper. src/store/ is the only folder that imports pg.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { classifyDatabaseError, isDatabaseUnavailable } from './errors.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

// timestamptz and bigint come back as strings we format ourselves; keep pg from parsing
// timestamps into Date objects that lose microseconds (meta.version and cursors need them).
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, (v) => v);
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

const ignore = () => {};

/** Names of prepared statements by text; bounded, so a stream of one-off texts cannot grow it. */
const statementNames = new Map<string, string>();
const MAX_STATEMENT_NAMES = 512;

/**
 * A parameterised query as a named prepared statement: each connection parses and plans it
 * once (Postgres's plan cache) instead of at every call. Measured on this project's userName
 * lookup, 16 connections: Postgres CPU per query 0.21 → 0.06 ms, queries/s ×2
 * (docs/benchmarks.md, "Prepared statements"). The name is a hash of the text.
 * Only for texts from a bounded set — static text, or text assembled from a fixed set of
 * fragments — since every distinct text stays prepared on every connection that ran it
 * (node-postgres keeps no LRU). A single statement only (the extended protocol allows one).
 */
export function prepared(text: string, values: unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `scimsync_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    if (statementNames.size < MAX_STATEMENT_NAMES) statementNames.set(text, name);
  }
  return { name, text, values };
}

/** The callback of a callback-style call, wrapped to classify its error (pg-pool calls these). */
function classifyingCallback(args: unknown[]): unknown[] {
  const last = args[args.length - 1];
  if (typeof last !== 'function') return args;
  const cb = last as (err: unknown, ...rest: unknown[]) => void;
  return [...args.slice(0, -1), (err: unknown, ...rest: unknown[]) => cb(err ? classifyDatabaseError(err) : err, ...rest)];
}

const classifyingPromise = (r: unknown): unknown =>
  r instanceof Promise ? r.catch((err: unknown) => Promise.reject(classifyDatabaseError(err))) : r;

/**
 * Every client of src/store. Its 'error' event always has a listener: pg emits there when the
 * connection dies while the client is checked out between queries (a transaction awaiting a
 * target call when Postgres restarts: "terminating connection due to administrator command"),
 * and an 'error' without a listener kills the process. The query in flight, or the next one,
 * fails with the error instead, classified (DatabaseUnavailableError) like every query error.
 */
class StoreClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.on('error', ignore);
  }

  override query(...args: any[]): any { // eslint-disable-line @typescript-eslint/no-explicit-any
    return classifyingPromise((super.query as (...a: unknown[]) => unknown)(...classifyingCallback(args)));
  }
}

/** pg.Pool whose query/connect reject with classified errors (connect fails before any client query). */
class StorePool extends pg.Pool {
  override query(...args: any[]): any { // eslint-disable-line @typescript-eslint/no-explicit-any
    return classifyingPromise((super.query as (...a: unknown[]) => unknown)(...classifyingCallback(args)));
  }

  override connect(...args: any[]): any { // eslint-disable-line @typescript-eslint/no-explicit-any
    return classifyingPromise((super.connect as (...a: unknown[]) => unknown)(...classifyingCallback(args)));
  }
}

export interface PoolOptions {
  /** Connections at most. */
  max?: number;
  /**
   * Milliseconds a checkout waits for a connection (a new one must connect within it) before
   * failing with DatabaseUnavailableError, so requests answer 503 instead of hanging while the
   * database is down. 0: wait forever.
   */
  connectionTimeoutMillis?: number;
}

/** The default checkout wait (PoolOptions.connectionTimeoutMillis). */
export const CONNECTION_TIMEOUT_MS = 5_000;

/**
 * A connection pool whose every error is owned: idle and checked-out clients have 'error'
 * listeners, and connection failures reject as DatabaseUnavailableError (see errors.ts).
 */
export function makePool(url: string, max: number | PoolOptions = 16): Pool {
  const opts = typeof max === 'number' ? { max } : max;
  const pool = new StorePool({
    connectionString: url,
    max: opts.max ?? 16,
    application_name: 'scimsync',
    connectionTimeoutMillis: opts.connectionTimeoutMillis ?? CONNECTION_TIMEOUT_MS,
    Client: StoreClient,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', ignore);
  return pool;
}

/** A single connection for the lifetime of a task (LISTEN, setup), with its 'error' owned. */
export function makeClient(url: string, applicationName = 'scimsync'): pg.Client {
  return new StoreClient({ connectionString: url, application_name: applicationName });
}

/**
 * A view of `client` that sends one query at a time, in call order. A client given queries
 * while one is running queues them itself, but pg 8 deprecates that (pg 9 throws): code that
 * shares a transaction's client between concurrent tasks goes through this instead.
 */
export function serialized(client: PoolClient): Queryable {
  let tail: Promise<unknown> = Promise.resolve();
  const query = (...args: unknown[]) => {
    const run = tail.then(() => (client.query as (...a: unknown[]) => Promise<unknown>)(...args));
    tail = run.catch(ignore);
    return run;
  };
  return { query } as unknown as Queryable;
}

/** Runs fn in one transaction; rolls back on any error and rethrows it. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let result: T;
  try {
    await client.query('begin');
    result = await fn(client);
    await client.query('commit');
  } catch (err) {
    // A broken connection cannot roll back (Postgres already did) and must not be reused.
    if (isDatabaseUnavailable(err)) {
      client.release(err as Error);
      throw err;
    }
    await client.query('rollback').catch(ignore);
    client.release();
    throw err;
  }
  client.release();
  return result;
}

/** Creates a database if it does not exist (connecting through adminUrl). */
export async function ensureDatabase(adminUrl: string, name: string, template?: string): Promise<void> {
  const client = makeClient(adminUrl);
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
