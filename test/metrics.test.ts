// Metrics added for the dashboard and alerts (deploy/): 401s by reason, and the per-organization
// gauges read from the database at scrape time. Real HTTP on loopback, real Postgres.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driftMembers, organizationReady, registry, renderMetrics, revocationsHeld, lastFullSync, scimAuthFailuresTotal, setOrganizationStateSource } from '../src/metrics.js';
import { organizationStates } from '../src/store/reconcileStatus.js';
import { upsertOrganization } from '../src/store/orgs.js';
import { createToken, revokeToken } from '../src/store/tokens.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ org: 'metrics' });
});
afterAll(async () => {
  await server?.close();
});

async function failures(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await scimAuthFailuresTotal.get()).values) out[`${v.labels.organization ?? ''}/${v.labels.reason}`] = v.value;
  return out;
}

async function gauge(g: typeof organizationReady): Promise<Record<string, number>> {
  return Object.fromEntries((await g.get()).values.map((v) => [String(v.labels.organization), v.value]));
}

describe('scimsync_scim_auth_failures_total', () => {
  it('counts each 401 by reason, naming the organization only when a stored token matched', async () => {
    const other = await upsertOrganization(server.pool, { organization: 'metrics-other' });
    const { token: otherToken } = await createToken(server.pool, other.id);
    const { token: revoked, prefix } = await createToken(server.pool, server.organizationId);
    expect(await revokeToken(server.pool, server.organizationId, prefix)).toBe(true);
    const expired = (await createToken(server.pool, server.organizationId, { expiresAt: new Date(Date.now() - 1000) })).token;
    const before = await failures();
    const send = async (authorization?: string) => {
      const res = await fetch(`${server.baseUrl}/Users`, { headers: authorization ? { authorization } : {} });
      await res.body?.cancel();
      return res.status;
    };
    const statuses = [
      await send(),
      await send('Bearer not-a-scimsync-token'),
      await send(`Bearer scimsync_aaaaaaaaaa_${'x'.repeat(43)}`),
      await send(`Bearer ${revoked}`),
      await send(`Bearer ${revoked}`),
      await send(`Bearer ${expired}`),
      await send(`Bearer ${otherToken}`),
    ];
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 401]);
    const after = await failures();
    const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
    expect({
      missing: delta('/missing'),
      malformed: delta('/malformed'),
      unknown: delta('/unknown'),
      revoked: delta('metrics/revoked'),
      expired: delta('metrics/expired'),
      wrongOrganization: delta('metrics-other/wrong_organization'),
    }).toEqual({ missing: 1, malformed: 1, unknown: 1, revoked: 2, expired: 1, wrongOrganization: 1 });
    // A valid token is not a failure.
    const ok = await server.scim('/Users');
    expect(ok.status).toBe(200);
    expect(await failures()).toEqual(after);
    // The exposition carries the labels as documented.
    expect(await registry.metrics()).toContain('scimsync_scim_auth_failures_total{organization="metrics",reason="revoked"}');
  });
});

describe('per-organization gauges read from the database at scrape time', () => {
  // What `scimsync start` does (src/main.ts setupMetrics); each scrape re-reads Postgres.
  const scrape = async () => {
    setOrganizationStateSource(() => organizationStates(server.pool));
    try {
      await renderMetrics();
    } finally {
      setOrganizationStateSource(undefined);
    }
  };
  it('reports Ready only after a clean full pass, failing organization passes and held revocations', async () => {
    const org = server.organizationId;
    await scrape();
    // No full pass yet: not Ready, and no last-sync sample.
    expect((await gauge(organizationReady)).metrics).toBe(0);
    expect((await gauge(lastFullSync)).metrics).toBeUndefined();

    await server.pool.query(
      `insert into reconcile_status (organization_id, last_full_sync_at, last_error, last_plan)
       values ($1::uuid, to_timestamp(1800000000), null, '{"grants": 3, "drift": {"missing": 3, "extra": 1, "changed": 0, "unmanaged": 2}}')
       on conflict (organization_id) do update set last_full_sync_at = excluded.last_full_sync_at, last_error = null, last_plan = excluded.last_plan`,
      [org],
    );
    await server.pool.query(`insert into reconcile_holds (organization_id, email, reason) values ($1::uuid, 'a@example.com', 'deprovisioned'), ($1::uuid, 'b@example.com', 'deprovisioned')`, [org]);
    await server.pool.query(`insert into reconcile_holds (organization_id, email, reason, approved_at) values ($1::uuid, 'c@example.com', 'deprovisioned', now())`, [org]);
    await scrape();
    expect((await gauge(organizationReady)).metrics).toBe(1);
    expect((await gauge(lastFullSync)).metrics).toBe(1800000000);
    expect((await gauge(revocationsHeld)).metrics).toBe(2); // the approved one is no longer held
    const drift = (await driftMembers.get()).values.filter((v) => v.labels.organization === 'metrics');
    expect(Object.fromEntries(drift.map((v) => [v.labels.kind, v.value]))).toEqual({ missing: 3, extra: 1, changed: 0, unmanaged: 2 });

    // An organization pass waiting for a retry after an error: not Ready.
    await server.pool.query(`insert into reconcile_queue (organization_id, user_id, attempts, last_error) values ($1::uuid, null, 2, 'target unreachable')`, [org]);
    await scrape();
    expect((await gauge(organizationReady)).metrics).toBe(0);
    await server.pool.query(`delete from reconcile_queue where organization_id = $1::uuid`, [org]);

    // A terminal failure recorded on the status: not Ready.
    await server.pool.query(`update reconcile_status set last_error = 'invalid spec' where organization_id = $1::uuid`, [org]);
    await scrape();
    expect((await gauge(organizationReady)).metrics).toBe(0);

    // A deleted organization drops out of every gauge.
    await server.pool.query(`update organizations set deleted_at = now() where id = $1::uuid`, [org]);
    await scrape();
    expect((await gauge(organizationReady)).metrics).toBeUndefined();
    expect((await gauge(revocationsHeld)).metrics).toBeUndefined();
  });
});
