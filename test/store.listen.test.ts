// The LISTEN connection survives its session being killed (issue 10): the administrator's
// termination (57P01, as a restart or failover sends) is owned, the connection comes back
// with backoff, announces itself (the caller's missed-notification sweep), and delivers
// notifications again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { listen, reconnectDelayMs } from '../src/store/listen.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { waitFor } from './helpers/desired.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

describe('listen', () => {
  it('reconnects after its backend is terminated, sweeps once per connection, and hears NOTIFY again', async () => {
    const stop = new AbortController();
    let connected = 0;
    let notified = 0;
    const done = listen({
      url: db.url, channel: 'scimsync_test_channel', log: pino({ level: 'silent' }), signal: stop.signal,
      onNotify: () => notified++, onConnected: () => connected++, baseDelayMs: 50, maxDelayMs: 200,
    });
    await waitFor(() => connected === 1, 5000, 'first connection');
    await db.pool.query(`select pg_notify('scimsync_test_channel', 'a')`);
    await waitFor(() => notified === 1, 5000, 'first notification');
    const { rows } = await db.pool.query(`select pg_terminate_backend(pid) as t from pg_stat_activity where application_name = 'scimsync-reconciler-listen' and datname = current_database()`);
    expect(rows).toHaveLength(1);
    await waitFor(() => connected === 2, 5000, 'reconnection');
    await db.pool.query(`select pg_notify('scimsync_test_channel', 'b')`);
    await waitFor(() => notified === 2, 5000, 'notification after reconnecting');
    stop.abort();
    await done;
  });

  it('backs off with jitter between half and all of a doubling delay, capped', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const ceiling = Math.min(10_000, 250 * 2 ** (attempt - 1));
      const d = reconnectDelayMs(attempt, 250, 10_000);
      expect(d).toBeGreaterThanOrEqual(ceiling / 2);
      expect(d).toBeLessThanOrEqual(ceiling);
    }
  });
});
