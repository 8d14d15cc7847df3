// Application-level group commit for writes to one row (a SCIM Group): writes to the same key
// that are in flight in this process together run in ONE transaction, each in its own
// savepoint, so the row lock and the commit (the WAL flush) are paid once per batch.
//
// Why: every member PATCH bumps the group's version (meta.version, RFC 7644 §3.14) and so
// holds the group row lock until its commit, which waits for the WAL flush. Per-group
// throughput was 1 / commit latency whatever the concurrency: bench scenario 3 (Entra
// "Add members" PATCH, one member each, one group) measured 374 req/s at c1 and 373 req/s at
// c16 (p50 24 ms), while the bare-SQL insert does ~5,000/s.
//
// Measured on the 2-CPU dev VM (shared, load ~3), 8 s autocannon runs of that PATCH on one
// group, before → after, medians of 4 interleaved runs: c16 540 → 700 req/s, p99 80–120 →
// 30–70 ms; calling updateGroup directly (no HTTP) c16 820 → 1,150/s. Batches hold ~15
// requests at c16. What bounds it now is that one backend runs the batch's statements one
// after another: ~3 round trips per request (savepoint, insert, mark + version bump), each
// ~0.3 ms on that VM, so a batch of 15 takes 13–25 ms of which the commit is ~2.5 ms.
import type { Pool, PoolClient } from './pool.js';
import { SQLSTATE, sqlState, withTransaction } from './pool.js';

/**
 * One request's part of a batch: given the current row (locked by the batch), do its writes
 * and return the row it leaves (`current` itself when it changed nothing). It may run more
 * than once (a batch is retried after a deadlock), so it must not have effects outside `client`.
 */
export type WriteStep<R> = (client: PoolClient, current: R) => Promise<R>;

/** Takes the row lock at the start of a batch and returns the current row. */
export type LockRow<R> = (client: PoolClient) => Promise<R>;

/**
 * A write alone in its batch, done without a transaction block: it reads the row, then writes
 * in one statement that applies only while the row is still at the version read. Returns
 * undefined when it cannot (the row changed meanwhile, or a change it does not handle): the
 * request then runs as a batch of one (lock, step, commit). Like a step it may run again.
 */
export type WriteAlone<R> = (pool: Pool) => Promise<R | undefined>;

interface Pending<R> {
  step: WriteStep<R>;
  alone?: WriteAlone<R>;
  resolve: (row: R) => void;
  reject: (err: unknown) => void;
}

type Outcome<R> = { ok: true; row: R } | { ok: false; err: unknown };

/**
 * Requests in one transaction. Each writing savepoint takes a subtransaction id and a backend
 * caches at most 64 of them (PGPROC_MAX_CACHED_SUBXIDS); beyond that every snapshot in the
 * cluster has to consult pg_subtrans. 64 also bounds how long the first request of a batch
 * waits for the others.
 */
export const MAX_BATCH = 64;

/**
 * Writes waiting for the running batch of their key. Waiting is the only back-pressure: the
 * list holds requests the HTTP server has already accepted, which used to wait in pg.Pool's
 * queue or hold a connection while blocked on the row lock. Now a busy group holds one
 * connection, not the whole pool, so other groups keep theirs (fairness across groups);
 * within a group the list is FIFO and each batch takes the oldest MAX_BATCH.
 */
interface Lane<R> {
  waiting: Pending<R>[];
}

const lanesByPool = new WeakMap<Pool, Map<string, Lane<unknown>>>();

function lanesOf(pool: Pool): Map<string, Lane<unknown>> {
  let lanes = lanesByPool.get(pool);
  if (!lanes) lanesByPool.set(pool, (lanes = new Map()));
  return lanes;
}

/**
 * Runs `step` on the row `key` names, batched with the other writes to that key in flight.
 * A lone write starts at once (no timer, no batching latency), by `alone` when given; writes
 * that arrive while it runs wait and go together in the next transaction.
 */
export function writeBatched<R>(pool: Pool, key: string, lock: LockRow<R>, step: WriteStep<R>, alone?: WriteAlone<R>): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const pending: Pending<R> = { step, alone, resolve, reject };
    const lanes = lanesOf(pool);
    const lane = lanes.get(key) as Lane<R> | undefined;
    if (lane) {
      lane.waiting.push(pending);
      return;
    }
    const fresh: Lane<R> = { waiting: [] };
    lanes.set(key, fresh as Lane<unknown>);
    // drain settles every request itself; should it fail unforeseen, no request waits forever.
    drain(pool, lanes, key, fresh, [pending], lock).catch((err: unknown) => {
      for (const p of [pending, ...fresh.waiting.splice(0)]) p.reject(err);
    });
  });
}

async function drain<R>(pool: Pool, lanes: Map<string, Lane<unknown>>, key: string, lane: Lane<R>, first: Pending<R>[], lock: LockRow<R>) {
  try {
    for (let batch = first; batch.length; batch = lane.waiting.splice(0, MAX_BATCH)) {
      await runBatch(pool, batch, lock);
    }
  } finally {
    lanes.delete(key);
  }
}

/**
 * One transaction for the batch; settles every promise only once its fate is known (commit).
 * A batch of one with an `alone` form tries that first: two round trips (read, write) where
 * the transaction takes six (begin, lock, members, mark and version, audit, commit), which is
 * the whole of a sequential IdP's PATCH cost (docs/benchmarks.md, scenario 3 at c1).
 */
async function runBatch<R>(pool: Pool, batch: Pending<R>[], lock: LockRow<R>): Promise<void> {
  let outcomes: Outcome<R>[];
  try {
    const alone = batch.length === 1 ? batch[0]!.alone : undefined;
    const row = alone ? await retryOnDeadlock(() => alone(pool)) : undefined;
    if (row !== undefined) {
      batch[0]!.resolve(row);
      return;
    }
    outcomes = await retryOnDeadlock(() => withTransaction(pool, (client) => runSteps(client, batch, lock)));
  } catch (err) {
    for (const p of batch) p.reject(err);
    return;
  }
  outcomes.forEach((o, i) => (o.ok ? batch[i]!.resolve(o.row) : batch[i]!.reject(o.err)));
}

/**
 * The steps in arrival order, each seeing the row the previous one left. A lone step needs no
 * savepoint: its failure is the transaction's. Otherwise a failing step (400 invalid member,
 * 412 If-Match, a PATCH error) is rolled back to its savepoint and fails alone, except a
 * deadlock or serialization failure, which aborts the batch so that it is retried whole.
 */
async function runSteps<R>(client: PoolClient, batch: Pending<R>[], lock: LockRow<R>): Promise<Outcome<R>[]> {
  let current = await lock(client);
  if (batch.length === 1) return [{ ok: true, row: await batch[0]!.step(client, current) }];
  const outcomes: Outcome<R>[] = [];
  for (const [i, p] of batch.entries()) {
    // One round trip: releasing the previous savepoint keeps the nesting flat.
    await client.query(i === 0 ? 'savepoint batched_write' : 'release savepoint batched_write; savepoint batched_write');
    try {
      current = await p.step(client, current);
      outcomes.push({ ok: true, row: current });
    } catch (err) {
      if (isRetryable(err)) throw err;
      await client.query('rollback to savepoint batched_write');
      outcomes.push({ ok: false, err });
    }
  }
  return outcomes;
}

const isRetryable = (err: unknown) => {
  const code = sqlState(err);
  return code === SQLSTATE.deadlockDetected || code === SQLSTATE.serializationFailure;
};

/**
 * Runs a transaction again when Postgres aborted it as a deadlock victim: a batch (group row,
 * then member rows) can meet a user deletion that takes them in the other order. The retried
 * transaction re-reads everything.
 */
export async function retryOnDeadlock<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || !isRetryable(err)) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 10 * i));
    }
  }
}
