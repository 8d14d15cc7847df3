// One client never gets two queries at once (issue 10): a batch of per-user items runs its
// members' target calls concurrently inside one transaction, and their statements (guard
// member count, holds, events) on that transaction's client. pg 8 prints a DeprecationWarning
// for overlapping queries (pg 9 throws); test/setup/warnings.ts fails this file if it appears.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startReconciler } from '../src/reconciler/index.js';
import { openReconcilerStore } from '../src/store/reconcilerStore.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { addUsersEach, createOrg, updateUser } from './helpers/desired.js';
import { startHttpTarget, type HttpTargetServer } from './helpers/httpTarget.js';
import { loadConfig } from '../src/config.js';

let db: TestDatabase;
let target: HttpTargetServer;
const log = pino({ level: 'silent' });

beforeAll(async () => {
  [db, target] = await Promise.all([createTestDatabase(), startHttpTarget()]);
});
afterAll(async () => {
  await target.close();
  await db.drop();
});

const once = () => startReconciler({ openStore: (max) => openReconcilerStore(db.url, max), databaseUrl: db.url, log, signal: new AbortController().signal, config: loadConfig(), workerId: 'serial', once: true, settings: { concurrency: 1 } });

describe('statements of a batch', () => {
  it('revoking a batch of members under the guard sends one statement at a time on the batch client', async () => {
    const org = await createOrg(db.pool, 'serial', {
      target: { type: 'http', http: { baseUrl: target.baseUrl, retryBaseDelay: '5ms' } },
      revocationGuard: { enabled: true, maxCount: 1000, maxFraction: null },
    });
    const names = Array.from({ length: 12 }, (_, i) => `s${String(i).padStart(2, '0')}@x.io`);
    const ids = await addUsersEach(db.pool, org, names);
    await once();
    expect(target.members('serial')).toHaveLength(12);
    target.latencyMs = 20; // the target calls of the batch overlap
    await updateUser(db.pool, org, ids, { deleted: true });
    await once(); // one slot: all twelve revocations in one batch transaction
    expect(target.members('serial')).toHaveLength(0);
    target.latencyMs = 0;
  });
});
