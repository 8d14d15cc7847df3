// ScimConfig lifecycles across delete and create: a real operator child process against the
// loopback fake apiserver and real Postgres (newcomer report, problems 4 and 5).
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CliProcess } from './helpers/cli.js';
import { killAllCli } from './helpers/cli.js';
import { condition, eventually, scimConfig, startOperatorRig, type OperatorRig } from './helpers/operator.js';
import { spawnReconciler, type ReconcilerProcess } from './helpers/reconcilerProcess.js';

let rig: OperatorRig;
let operator: CliProcess;
let reconciler: ReconcilerProcess | undefined;

beforeAll(async () => {
  rig = await startOperatorRig();
  operator = (await rig.startOperator('operator-0', { OPERATOR_STATUS_REFRESH_MS: '300' })).proc;
});

afterAll(async () => {
  reconciler?.child.kill('SIGKILL');
  await killAllCli();
  await rig?.close();
});

const get = (name: string) => rig.fake.get('scimconfigs', 'default', name);

it('create/delete cycles leave no abort listeners behind: no MaxListenersExceededWarning on stderr', async () => {
  const started = Date.now();
  for (let i = 0; i < 3; i++) {
    rig.fake.create('scimconfigs', scimConfig('cycle', { organization: 'cycle' }));
    await eventually(() => condition(get('cycle'), 'Ready')?.status === 'True', 5000, 'Ready');
    rig.fake.delete('scimconfigs', 'default', 'cycle');
    await eventually(() => !get('cycle'), 5000, 'finalized and gone');
  }
  // The Lease is renewed every 250 ms (SHORT_LEASE): more than 11 renewals have slept on the
  // process's AbortSignal by now; the leak warned after the 11th.
  const wait = 4000 - (Date.now() - started);
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  expect(operator.stderr).toContain('ScimConfig deleted');
  expect(operator.stderr).not.toContain('MaxListenersExceededWarning');
});

it('a ScimConfig created again after a delete starts at AwaitingFirstSync, then shows its own failing target (Synced False TargetUnavailable, Ready False)', async () => {
  reconciler = spawnReconciler(rig.db.url, { TARGET_SECRETS: 'kubernetes', KUBECONFIG: rig.kubeconfig, RECONCILER_POLL_MS: '100' });
  // The first object: the default postgres target, synced and Converged.
  rig.fake.create('scimconfigs', scimConfig('again', { organization: 'again' }));
  const first = await eventually(() => condition(get('again'), 'Synced')?.reason === 'Converged' && get('again'), 15_000, 'first object Converged');
  expect((first.status as { lastFullSyncTime?: string }).lastFullSyncTime).toBeTruthy();
  rig.fake.delete('scimconfigs', 'default', 'again');
  await eventually(() => !get('again'), 5000, 'finalized and gone');

  // The same organization again, new uid, its target's Secret does not exist.
  rig.fake.create(
    'scimconfigs',
    scimConfig('again', { organization: 'again', target: { type: 'http', http: { baseUrl: 'http://127.0.0.1:9/app', tokenSecretRef: { name: 'again-missing', key: 'token' } } } }),
  );
  const fresh = await eventually(() => {
    const o = get('again');
    return o && o.metadata.uid !== first.metadata.uid && condition(o, 'TokenIssued')?.status === 'True' && o;
  }, 5000, 'second object reconciled');
  // Never the first object's result: no full resync of the new one has finished or failed yet.
  expect(['AwaitingFirstSync', 'TargetUnavailable']).toContain(condition(fresh, 'Synced')?.reason);
  const failed = await eventually(() => condition(get('again'), 'Synced')?.reason === 'TargetUnavailable' && get('again'), 15_000, 'Synced TargetUnavailable');
  expect(condition(failed, 'Synced')).toMatchObject({ status: 'False', message: expect.stringContaining('Secret default/again-missing does not exist') });
  expect(condition(failed, 'Ready')).toMatchObject({ status: 'False', reason: 'TargetUnavailable' });
  expect((failed.status as { lastFullSyncTime?: string }).lastFullSyncTime).toBeUndefined();
});
