// An in-memory double of the reconcile loop's statements (QueueStore, src/reconciler/loop.ts),
// for unit tests of the loop's decisions only: it follows the rules of the real statements in
// src/store/reconcileQueue.ts (due and lease, claim order, finish by revision, retry delay,
// release without counting an attempt) and records every call. The real statements are tested
// against Postgres by the reconciler's other tests.
import type { QueueStore } from '../../src/reconciler/loop.js';
import { DatabaseUnavailableError } from '../../src/store/errors.js';
import type { QueueStats, WorkItem } from '../../src/store/reconcileQueue.js';

export interface QueueRow {
  id: string;
  organizationId: string;
  userId: string | null;
  revision: number;
  attempts: number;
  /** Epoch ms when it is due. */
  runAt: number;
  lockedBy: string | null;
  lockedAt: number | null;
  lastError: string | null;
  changedAt: string;
}

export class MemoryQueue implements QueueStore {
  readonly rows = new Map<string, QueueRow>();
  /** Every claim: its limits, how many it got, when (epoch ms); failed claims got -1. */
  readonly claims: { limits: { users: number; organizations: number }; got: number; at: number }[] = [];
  readonly completed: string[] = [];
  readonly retried: { id: string; delayMs: number; error: string | null }[] = [];
  readonly released: string[] = [];
  readonly heartbeats: string[][] = [];
  readonly terminal: { organizationId: string; pass: 'organization' | 'user'; message: string }[] = [];
  /** The next this many claims fail as if the database were down. */
  unavailable = 0;
  private seq = 0;

  /** Queues an item (userId null: an organization pass), due now or in `runInMs`. */
  add(organizationId: string, userId: string | null, runInMs = 0): string {
    const id = String(++this.seq);
    this.rows.set(id, { id, organizationId, userId, revision: 1, attempts: 0, runAt: Date.now() + runInMs, lockedBy: null, lockedAt: null, lastError: null, changedAt: new Date().toISOString() });
    return id;
  }

  readonly claimItems = async (workerId: string, limits: { users: number; organizations: number }, leaseMs: number): Promise<WorkItem[]> => {
    const now = Date.now();
    if (this.unavailable > 0) {
      this.unavailable--;
      this.claims.push({ limits, got: -1, at: now });
      throw new DatabaseUnavailableError(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    }
    const due = [...this.rows.values()]
      .filter((r) => r.runAt <= now && (r.lockedAt === null || r.lockedAt < now - leaseMs))
      .sort((a, b) => a.runAt - b.runAt || Number(a.id) - Number(b.id));
    const got = [
      ...due.filter((r) => r.userId !== null).slice(0, Math.max(0, limits.users)),
      ...due.filter((r) => r.userId === null).slice(0, Math.max(0, limits.organizations)),
    ];
    this.claims.push({ limits, got: got.length, at: now });
    return got.map((r) => {
      r.lockedBy = workerId;
      r.lockedAt = now;
      r.attempts++;
      return { id: r.id, organizationId: r.organizationId, userId: r.userId, changedAt: r.changedAt, revision: String(r.revision), attempts: r.attempts, resync: false, lockedAt: new Date(now).toISOString() };
    });
  };

  private mine(item: WorkItem, workerId: string): QueueRow | undefined {
    const r = this.rows.get(item.id);
    return r && r.lockedBy === workerId ? r : undefined;
  }

  private unlock(r: QueueRow): void {
    r.lockedBy = null;
    r.lockedAt = null;
  }

  readonly completeItem = async (item: WorkItem, workerId: string): Promise<void> => {
    const r = this.mine(item, workerId);
    if (!r) return;
    this.completed.push(item.id);
    if (String(r.revision) === item.revision) this.rows.delete(r.id);
    else {
      this.unlock(r);
      r.lastError = null;
    }
  };

  readonly retryItem = async (item: WorkItem, workerId: string, delayMs: number, error: string | null): Promise<void> => {
    const r = this.mine(item, workerId);
    if (!r) return;
    this.retried.push({ id: item.id, delayMs, error });
    this.unlock(r);
    r.lastError = error;
    if (String(r.revision) === item.revision) r.runAt = Date.now() + delayMs;
  };

  readonly releaseItem = async (item: WorkItem, workerId: string): Promise<void> => {
    const r = this.mine(item, workerId);
    if (!r) return;
    this.released.push(item.id);
    this.unlock(r);
    r.attempts = Math.max(r.attempts - 1, 0);
  };

  readonly heartbeat = async (workerId: string, ids: string[]): Promise<void> => {
    if (ids.length === 0) return;
    this.heartbeats.push([...ids]);
    for (const id of ids) {
      const r = this.rows.get(id);
      if (r?.lockedBy === workerId) r.lockedAt = Date.now();
    }
  };

  readonly scheduleResyncs = async (): Promise<number> => 0;

  readonly queueStats = async (failingAfter: number): Promise<QueueStats> => {
    const rows = [...this.rows.values()];
    return { depth: rows.length, oldestSeconds: 0, failing: rows.filter((r) => r.attempts >= failingAfter && r.lastError !== null).length };
  };

  readonly pruneEvents = async (): Promise<void> => {};
  readonly pruneAudit = async (): Promise<number> => 0;

  readonly recordTerminalError = async (organizationId: string, pass: 'organization' | 'user', message: string): Promise<void> => {
    this.terminal.push({ organizationId, pass, message });
  };
}
