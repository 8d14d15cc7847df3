// The LISTEN connection survives its session being killed (issue 10): the administrator's
// termination (57P01, as a restart or failover sends) is owned, the connection comes back
// with backoff, announces itself (the caller's missed-notification sweep), and delivers
// notifications again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { listen, Listener, reconnectDelayMs } from '../src/store/listen.js';
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

describe('Listener (one connection, several channels)', () => {
  it('dispatches per channel, announces loss and reconnection to every subscriber, and unsubscribes', async () => {
    const log = pino({ level: 'silent' });
    const listener = new Listener({ url: db.url, log, applicationName: 'scimsync-test-shared-listen', baseDelayMs: 50, maxDelayMs: 200 });
    const counts = { a: { notify: 0, connected: 0, lost: 0 }, b: { notify: 0, connected: 0, lost: 0 } };
    const handlers = (k: 'a' | 'b') => ({ onNotify: () => counts[k].notify++, onConnected: () => counts[k].connected++, onLost: () => counts[k].lost++ });
    listener.subscribe('scimsync_test_a', handlers('a'));
    await waitFor(() => counts.a.connected === 1, 5000, 'first channel listening');
    // Added to the live connection.
    const offB = listener.subscribe('scimsync_test_b', handlers('b'));
    await waitFor(() => counts.b.connected === 1, 5000, 'second channel listening');
    expect(() => listener.subscribe('scimsync_test_b', handlers('b'))).toThrow(/already/);
    expect(() => listener.subscribe('bad; drop table x', handlers('b'))).toThrow(/identifier/);
    const backends = `select pid from pg_stat_activity where application_name = 'scimsync-test-shared-listen' and datname = current_database()`;
    expect((await db.pool.query(backends)).rowCount).toBe(1);

    await db.pool.query(`select pg_notify('scimsync_test_a', ''), pg_notify('scimsync_test_b', ''), pg_notify('scimsync_test_b', 'x')`);
    await waitFor(() => counts.a.notify === 1 && counts.b.notify === 2, 5000, 'notifications per channel');

    await db.pool.query(`select pg_terminate_backend(pid) from (${backends}) l`);
    await waitFor(() => counts.a.connected === 2 && counts.b.connected === 2, 5000, 'both channels back');
    expect(counts.a.lost).toBe(1);
    expect(counts.b.lost).toBe(1);
    expect((await db.pool.query(backends)).rowCount).toBe(1);
    await db.pool.query(`select pg_notify('scimsync_test_a', ''), pg_notify('scimsync_test_b', '')`);
    await waitFor(() => counts.a.notify === 2 && counts.b.notify === 3, 5000, 'notifications after reconnecting');

    offB();
    await db.pool.query(`select pg_notify('scimsync_test_b', ''), pg_notify('scimsync_test_a', '')`);
    await waitFor(() => counts.a.notify === 3, 5000, 'channel a still heard');
    expect(counts.b.notify).toBe(3);
    await listener.close();
    await waitFor(async () => (await db.pool.query(backends)).rowCount === 0, 5000, 'connection closed');
  });
});
