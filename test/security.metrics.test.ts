// /metrics exposure (issue 10): a separate port, a bearer token, per-organization labels that
// can be switched off, and per-organization gauges read from Postgres so every replica
// exports the current value. Real `scimsync start` processes over a real database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { cliEnv, killAllCli, startCli, waitForOk } from './helpers/cli.js';
import { createServer } from 'node:net';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await killAllCli();
  await db.drop();
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const TOKEN = 'metrics-token-0123456789abcdef';

async function startScimsync(env: Record<string, string>) {
  const port = await freePort();
  const p = startCli(['start'], cliEnv({ DATABASE_URL: db.url, HOST: '127.0.0.1', PORT: String(port), RECONCILER_ENABLED: 'false', ...env }));
  await waitForOk(`http://127.0.0.1:${port}/healthz`, p);
  return { p, port };
}

describe('/metrics exposure', () => {
  it('METRICS_PORT + METRICS_TOKEN: not on the main port, 401 without the token, 200 with it; gauges come from Postgres', async () => {
    const metricsPort = await freePort();
    const { p, port } = await startScimsync({ METRICS_PORT: String(metricsPort), METRICS_TOKEN: TOKEN });
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    // Another replica's pass: holds and a last plan written to the database, not by this process.
    const { rows } = await db.pool.query<{ id: string }>(`select id from organizations where slug = 'demo'`);
    await db.pool.query(`insert into reconcile_holds (organization_id, email, reason) values ($1, 'a@example.com', 'deprovisioned'), ($1, 'b@example.com', 'deprovisioned')`, [rows[0].id]);
    await db.pool.query(
      `insert into reconcile_status (organization_id, last_full_sync_at, last_plan) values ($1, to_timestamp(1700000000), $2)
       on conflict (organization_id) do update set last_full_sync_at = excluded.last_full_sync_at, last_plan = excluded.last_plan`,
      [rows[0].id, JSON.stringify({ drift: { missing: 3, extra: 1, changed: 0, unmanaged: 2 } })],
    );
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^scimsync_revocations_held\{organization="demo"\} 2$/m);
    expect(text).toMatch(/^scimsync_drift_members\{organization="demo",kind="missing"\} 3$/m);
    expect(text).toMatch(/^scimsync_last_full_sync_timestamp_seconds\{organization="demo"\} 1700000000$/m);
    // Approved elsewhere: the next scrape says so.
    await db.pool.query(`update reconcile_holds set approved_at = now()`);
    const after = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(after).toMatch(/^scimsync_revocations_held\{organization="demo"\} 0$/m);
    p.child.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
  });

  it('METRICS_ORGANIZATION_LABELS=false exports no organization names', async () => {
    const { p, port } = await startScimsync({ METRICS_ORGANIZATION_LABELS: 'false' });
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).not.toContain('organization="demo"');
    expect(text).toMatch(/^scimsync_drift_members\{organization="",kind="missing"\} 3$/m);
    p.child.kill('SIGTERM');
    await p.exited;
  });
});
