// The reconciler's store. Like graphile-worker's worker, which receives getJob/completeJob
// instead of writing SQL, src/reconciler runs no statement of its own: the composition root
// (src/main.ts) builds a ReconcilerStore and hands it to startReconciler and the reconciler's
// CLI commands. Each member is the function of the same name in its aggregate's module —
// reconcileQueue.ts, desiredState.ts, reconcileEvents.ts, revocationGuard.ts,
// revocationHolds.ts, reconcileStatus.ts, audit.ts, memberLocks.ts — with its database bound.
// The loop's decisions are unit-tested against an in-memory double of the queue's part of this
// interface (test/reconciler.loop.test.ts); the statements themselves run against real
// Postgres in the reconciler's other tests.
import { pruneAudit } from './audit.js';
import { managedEmails, readMappedGroups, readMemberRows, readOrganizationRow, readUserItemEmails, userRows } from './desiredState.js';
import { withMemberLock, withMembersLock } from './memberLocks.js';
import { makePool, serialized, type Pool, type Queryable } from './pool.js';
import { appliedSince, databaseNow, listEvents, pruneEvents, recordEvent, recordOpResults } from './reconcileEvents.js';
import { claimItems, completeItem, completeItems, failingItems, heartbeat, markOrganization, queueStats, releaseItem, retryItem, scheduleResyncs } from './reconcileQueue.js';
import { lastError, recordFullSync, recordTerminalError } from './reconcileStatus.js';
import { memberCount, releaseReservations, reserveRevocation, reserveRevocations, revokedInWindow } from './revocationGuard.js';
import { addHolds, approvedEmails, approveHolds, countHolds, dropHolds, listHolds } from './revocationHolds.js';

/** Every statement that runs on a pool or on one transaction's client, by name. */
const STATEMENTS = {
  // the work queue
  claimItems, completeItem, completeItems, retryItem, releaseItem, heartbeat, scheduleResyncs, markOrganization, queueStats, failingItems,
  // desired state
  readOrganizationRow, readUserItemEmails, readMappedGroups, readMemberRows, userRows, managedEmails,
  // events
  recordEvent, recordOpResults, databaseNow, appliedSince, listEvents, pruneEvents,
  // the revocation guard's window and its holds
  revokedInWindow, releaseReservations, memberCount,
  listHolds, addHolds, approvedEmails, dropHolds, approveHolds, countHolds,
  // status
  recordFullSync, recordTerminalError, lastError,
  pruneAudit,
};

/** A store function with its database bound: `f(db, ...args)` becomes `(...args)`. */
export type Bound<F> = F extends (db: never, ...args: infer A) => infer R ? (...args: A) => R : never;

/** The statements bound to a pool, or (inside withMemberLock/withMembersLock) to the lock's transaction. */
export type ReconcilerStatements = { readonly [K in keyof typeof STATEMENTS]: Bound<(typeof STATEMENTS)[K]> };

export interface ReconcilerStore extends ReconcilerStatements {
  /** Runs fn in a transaction holding the member's advisory lock; fn's statements run in it. */
  withMemberLock<T>(organizationId: string, email: string, fn: (tx: ReconcilerStatements) => Promise<T>): Promise<T>;
  /**
   * Runs fn in one transaction holding the locks of all the emails. fn's statements run in it
   * one at a time, in call order, however many of fn's tasks issue them concurrently.
   */
  withMembersLock<T>(organizationId: string, emails: string[], fn: (tx: ReconcilerStatements) => Promise<T>): Promise<T>;
  /** Guard reservations: each its own short transaction under the organization's guard lock. */
  readonly reserveRevocation: Bound<typeof reserveRevocation>;
  readonly reserveRevocations: Bound<typeof reserveRevocations>;
  /** Closes the connections the store opened (nothing for a store over a caller's pool). */
  end(): Promise<void>;
}

function bindStatements(db: Queryable): ReconcilerStatements {
  const bound: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(STATEMENTS)) bound[name] = (...args: unknown[]) => (f as (db: Queryable, ...a: unknown[]) => unknown)(db, ...args);
  return bound as ReconcilerStatements;
}

/**
 * The reconciler's store over `pool`. `end` runs when the store is ended (default: nothing,
 * the pool is the caller's).
 */
export function makeReconcilerStore(pool: Pool, end: () => Promise<void> = async () => {}): ReconcilerStore {
  return {
    ...bindStatements(pool),
    withMemberLock: (organizationId, email, fn) => withMemberLock(pool, organizationId, email, (client) => fn(bindStatements(serialized(client)))),
    withMembersLock: (organizationId, emails, fn) => withMembersLock(pool, organizationId, emails, (client) => fn(bindStatements(serialized(client)))),
    reserveRevocation: (...args) => reserveRevocation(pool, ...args),
    reserveRevocations: (...args) => reserveRevocations(pool, ...args),
    end,
  };
}

/** A store over a pool of its own (`maxConnections` connections to `url`), closed by its end(). */
export function openReconcilerStore(url: string, maxConnections: number): ReconcilerStore {
  const pool = makePool(url, maxConnections);
  return makeReconcilerStore(pool, () => pool.end());
}
