// SIGTERM is bounded by SHUTDOWN_TIMEOUT_MS even while a target call hangs (issue 10): target
// calls carry the shutdown's AbortSignal, and whatever is left after the timeout is left to
// its lease. The target here accepts the request and never answers (its own call timeout is
// a minute).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { waitFor } from './helpers/desired.js';
import { startHttpTarget, type HttpTargetServer } from './helpers/httpTarget.js';
import { createTokenFor, scimConfigFile, scimRequest, spawnScimsync, type ScimsyncProcess } from './faults/helpers.js';

let db: TestDatabase;
let target: HttpTargetServer;
let config: { file: string; remove(): Promise<void> };
let proc: ScimsyncProcess | undefined;

beforeAll(async () => {
  [db, target] = await Promise.all([createTestDatabase(), startHttpTarget()]);
  config = await scimConfigFile('acme', target.baseUrl, '60s');
});
afterAll(async () => {
  if (proc?.child.exitCode === null) proc.child.kill('SIGKILL');
  await target.close();
  await config.remove();
  await db.drop();
});

describe('bounded shutdown', () => {
  it('exits within SHUTDOWN_TIMEOUT_MS while a target call hangs, and the item is claimed again later', async () => {
    proc = await spawnScimsync(['start', '--config', config.file], { DATABASE_URL: db.url, SHUTDOWN_TIMEOUT_MS: '2000', RECONCILER_POLL_MS: '100' });
    await proc.ready();
    const token = await createTokenFor(db.url, 'acme');
    target.mode = 'hang';
    const created = await scimRequest(`${proc.url}/scim/v2/acme`, token, 'POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'hang@example.com' });
    expect(created.status).toBe(201);
    // The user's item now waits on the target, which never answers.
    await waitFor(() => target.requests.some((r) => r.email === 'hang@example.com' && r.status === 0), 10_000, 'a target call in flight');
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    proc.child.kill('SIGTERM');
    const code = await proc.exited;
    const ms = Date.now() - started;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(2000 + 2500);
    // Nothing was lost: the user's change is still queued for the next reconciler.
    const { rowCount } = await db.pool.query(`select 1 from reconcile_queue q join scim_users u on u.id = q.user_id where u.user_name = 'hang@example.com'`);
    const { rowCount: orgPass } = await db.pool.query(`select 1 from reconcile_queue where user_id is null`);
    expect((rowCount ?? 0) + (orgPass ?? 0)).toBeGreaterThan(0);
    target.mode = 'normal';
  });
});
