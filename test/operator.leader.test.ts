// Leader election between real `scimsync operator` processes (coordination.k8s.io/v1 Lease on
// the fake apiserver, lease 2 s / renew deadline 1.5 s / retry 250 ms): exactly one leads; after
// SIGKILL of the leader the other takes over within the lease duration (plus a retry period);
// SIGTERM releases the Lease; a leader that cannot renew exits.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAllCli, sleep, type CliProcess } from './helpers/cli.js';
import { condition, eventually, scimConfig, SHORT_LEASE, startOperatorRig, type OperatorRig } from './helpers/operator.js';

let rig: OperatorRig;

beforeAll(async () => {
  rig = await startOperatorRig();
});

afterEach(killAllCli);

afterAll(async () => {
  await killAllCli();
  await rig?.close();
});

const LEASE_MS = Number(SHORT_LEASE.LEADER_ELECTION_LEASE_DURATION_MS);
const RETRY_MS = Number(SHORT_LEASE.LEADER_ELECTION_RETRY_PERIOD_MS);

const holder = () => (rig.fake.get('leases', 'scimsync-system', 'scimsync-operator')?.spec as { holderIdentity?: string } | undefined)?.holderIdentity;

async function leaderGauge(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^scimsync_operator_leader (\d+)/m.exec(text)?.[1]);
}

describe('operator leader election', () => {
  it('two replicas: exactly one leads and reconciles; SIGKILL of it → the other takes over within the lease duration', async () => {
    const a = await rig.startOperator('op-a');
    const b = await rig.startOperator('op-b');
    const first = await eventually(() => holder(), 5000, 'a holder');
    const [leader, follower] = first === 'op-a' ? [a, b] : [b, a];
    await eventually(async () => (await leaderGauge(leader.port)) === 1, 5000, 'leader gauge');
    // Both are ready (informers synced); only one leads, for several renewals.
    for (let i = 0; i < 4; i++) {
      expect(holder()).toBe(first);
      expect(await leaderGauge(follower.port)).toBe(0);
      await sleep(RETRY_MS);
    }
    rig.fake.create('scimconfigs', scimConfig('le-1', { organization: 'le-1' }));
    await eventually(() => condition(rig.fake.get('scimconfigs', 'default', 'le-1'), 'Ready')?.status === 'True', 5000);

    const killedAt = Date.now();
    leader.proc.child.kill('SIGKILL');
    const second = await eventually(() => holder() !== first && holder(), LEASE_MS * 3, 'takeover');
    const failoverMs = Date.now() - killedAt;
    expect(second).toBe(first === 'op-a' ? 'op-b' : 'op-a');
    // client-go bound: the lease must expire as the survivor observed it, then one retry.
    expect(failoverMs).toBeLessThan(LEASE_MS + 3 * RETRY_MS + 1000);
    process.stderr.write(`operator leader failover after SIGKILL: ${failoverMs} ms (lease ${LEASE_MS} ms, retry ${RETRY_MS} ms)\n`);
    await eventually(async () => (await leaderGauge(follower.port)) === 1, 5000, 'new leader gauge');
    // The new leader reconciles: a new object converges.
    rig.fake.create('scimconfigs', scimConfig('le-2', { organization: 'le-2' }));
    await eventually(() => condition(rig.fake.get('scimconfigs', 'default', 'le-2'), 'Ready')?.status === 'True', 5000);
  });

  it('SIGTERM releases the Lease (empty holder, leaseDurationSeconds 1) and exits 0', async () => {
    const a = await rig.startOperator('op-term');
    await eventually(() => holder() === 'op-term', LEASE_MS * 3, 'op-term leads');
    a.proc.child.kill('SIGTERM');
    const exit = await a.proc.exited;
    expect(exit.code).toBe(0);
    const lease = rig.fake.get('leases', 'scimsync-system', 'scimsync-operator')!.spec as { holderIdentity?: string; leaseDurationSeconds?: number };
    expect(lease.holderIdentity ?? '').toBe('');
    expect(lease.leaseDurationSeconds).toBe(1);
    // A replica started now takes it at once instead of waiting out a lease.
    await rig.startOperator('op-next');
    const ready = Date.now();
    await eventually(() => holder() === 'op-next', 3000, 'op-next leads');
    expect(Date.now() - ready).toBeLessThan(LEASE_MS);
  });

  it('a leader that cannot renew within the renew deadline exits with code 1', async () => {
    const a: { proc: CliProcess } = await rig.startOperator('op-lose');
    await eventually(() => holder() === 'op-lose', LEASE_MS * 3, 'op-lose leads');
    rig.fake.faults.fail({ status: 500, forMs: 4000, match: { path: '/leases/' } });
    const exit = await Promise.race([a.proc.exited, sleep(8000).then(() => undefined)]);
    rig.fake.faults.reset();
    expect(exit?.code).toBe(1);
    expect(a.proc.stderr).toContain('leader lease lost');
  });
});
