// Waking the reconcilers after a write that commits on its own (one statement, no transaction
// block: createUser, the optimistic user write, the lone group write), coalesced per
// organization within this process.
//
// Why: a NOTIFY is cheap to send but expensive to commit. A committing transaction that
// notified holds Postgres's notification-queue lock (a lock on the database object, shown as
// wait_event Lock:object) from PreCommit_Notify through its WAL flush, so notifying commits
// run one at a time cluster-wide instead of sharing a flush, and each one signals every
// listening backend. With 16 concurrent POST /Users statements (insert, marker, audit entry,
// NOTIFY) bare SQL did 1,850/s at 0.53 ms of Postgres CPU each; without the NOTIFY, 3,600/s
// at 0.37 ms (bench/ab.mjs and docs/benchmarks.md, "Issue 11, fourth round").
//
// The rule: the statement a write runs carries the NOTIFY itself when no other statement of
// this process for that organization is carrying one right now — so an unloaded write pays
// nothing extra and its wake-up is delivered at its commit, as before. A write that starts
// while another one carries sends no NOTIFY in its statement; once it has committed, this
// process sends one (`select pg_notify`), and while such a standalone NOTIFY is in flight the
// next ones fold into a single follow-up. Every committed write is therefore followed by a
// NOTIFY committed after it: the reconciler (which re-reads the queue on each wake-up) cannot
// miss it, and at most two NOTIFYs per organization are in flight from this process at a time
// whatever the request rate. Should a standalone NOTIFY fail (Postgres unreachable just
// after the write committed), the marker is durable and the reconciler's poll
// (RECONCILER_POLL_MS, 1 s by default) finds it.
import { prepared, type Queryable } from './pool.js';
import { RECONCILE_CHANNEL } from './reconcileQueue.js';

interface OrgWake {
  /** A statement carrying this organization's NOTIFY is running. */
  carrying: boolean;
  /** A standalone NOTIFY is in flight. */
  sending: boolean;
  /** Writes committed since the in-flight standalone NOTIFY was sent: send one more after it. */
  again: boolean;
  /** Writes holding this state (begun, not done): it is dropped only when none is left. */
  writes: number;
}

/** What a write does about waking the reconcilers; see the file comment. */
export interface Wake {
  /** Whether this write's statement carries the NOTIFY itself (notifyAfter in its text). */
  carry: boolean;
  /**
   * Call once the statement has ended. `changed`: it committed a reconcile marker (a write that
   * changed nothing, failed, or was rolled back needs no wake-up).
   */
  done(changed: boolean): void;
}

/** `fn` on its first call only: a write's `done` called twice must not count twice. */
function once(fn: (changed: boolean) => void): (changed: boolean) => void {
  let called = false;
  return (changed) => {
    if (called) return;
    called = true;
    fn(changed);
  };
}

const NOTIFY_SQL = 'select pg_notify($1::text, $2::text)';
const statesByDb = new WeakMap<Queryable, Map<string, OrgWake>>();

/**
 * The wake-up plan for one autocommit write of `organizationId` through `db` (a pool: the
 * standalone NOTIFY goes through it too). Never throws; `done` never rejects.
 */
export function wakeFor(db: Queryable, organizationId: string): Wake {
  let states = statesByDb.get(db);
  if (!states) statesByDb.set(db, (states = new Map()));
  const orgs = states;
  let st = orgs.get(organizationId);
  if (!st) orgs.set(organizationId, (st = { carrying: false, sending: false, again: false, writes: 0 }));
  const state = st;
  state.writes++;
  const forget = () => {
    if (state.writes === 0 && !state.sending) orgs.delete(organizationId);
  };
  const send = () => {
    state.sending = true;
    db.query(prepared(NOTIFY_SQL, [RECONCILE_CHANNEL, organizationId])).then(
      () => settle(),
      // Durable marker, poll fallback: see the file comment.
      () => settle(),
    );
  };
  const settle = () => {
    if (state.again) {
      state.again = false;
      send();
    } else {
      state.sending = false;
      forget();
    }
  };
  if (!state.carrying) {
    state.carrying = true;
    return { carry: true, done: once(() => { state.carrying = false; state.writes--; forget(); }) };
  }
  return {
    carry: false,
    done: once((changed) => {
      state.writes--;
      if (!changed) return forget();
      if (state.sending) state.again = true;
      else send();
    }),
  };
}

/**
 * Runs one autocommit write statement with its wake-up: `statement(notify)` runs the text
 * with (true) or without its NOTIFY; `marked(rows)` says whether it committed a reconcile
 * marker (by default: it returned rows, for statements that return the rows they wrote and
 * mark exactly those). Returns the rows; rethrows the statement's error (no wake-up then).
 */
export async function withWake<T>(
  db: Queryable,
  organizationId: string,
  statement: (notify: boolean) => Promise<{ rows: T[] }>,
  marked: (rows: T[]) => boolean = (rows) => rows.length > 0,
): Promise<T[]> {
  const wake = wakeFor(db, organizationId);
  let rows: T[];
  try {
    ({ rows } = await statement(wake.carry));
  } catch (err) {
    wake.done(false);
    throw err;
  }
  wake.done(marked(rows));
  return rows;
}
