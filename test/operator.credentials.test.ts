// Target credentials from the Kubernetes API (TARGET_SECRETS=kubernetes): a real
// `scimsync reconcile` process reads spec.target.http.tokenSecretRef from a Secret in the
// ScimConfig's namespace on the fake apiserver, uses a rotated value on the next call without a
// restart, and never writes the credential into Postgres.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { claimOrganization } from '../src/store/orgs.js';
import { killAllCli } from './helpers/cli.js';
import { addUser } from './helpers/desired.js';
import { startHttpTarget, type HttpTargetServer } from './helpers/httpTarget.js';
import { eventually, startOperatorRig, type OperatorRig } from './helpers/operator.js';
import { spawnReconciler, type ReconcilerProcess } from './helpers/reconcilerProcess.js';

let rig: OperatorRig;
let target: HttpTargetServer;
let reconciler: ReconcilerProcess | undefined;

beforeAll(async () => {
  rig = await startOperatorRig();
  target = await startHttpTarget();
});

afterAll(async () => {
  reconciler?.child.kill('SIGKILL');
  await killAllCli();
  await target?.close();
  await rig?.close();
});

const setToken = (value: string, create = false) => {
  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'app-creds', namespace: 'team-a' }, stringData: { token: value } };
  if (create) rig.fake.create('secrets', secret, 'team-a');
  else rig.fake.patch('secrets', 'team-a', 'app-creds', { stringData: { token: value } });
};

it('tokenSecretRef is read through the API in the ScimConfig namespace, and a rotated token is used on the next call', async () => {
  setToken('tok-1', true);
  const spec = { organization: 'creds', target: { type: 'http' as const, http: { baseUrl: target.baseUrl, tokenSecretRef: { name: 'app-creds', key: 'token' }, maxRetries: 0 } } };
  const claim = await claimOrganization(rig.db.pool, spec, { kind: 'kubernetes', ref: 'team-a/creds', uid: 'uid-creds' });
  expect(claim.status).toBe('claimed');
  const orgId = claim.organization.id;
  reconciler = spawnReconciler(rig.db.url, { TARGET_SECRETS: 'kubernetes', KUBECONFIG: rig.kubeconfig, RECONCILER_POLL_MS: '100' });

  await addUser(rig.db.pool, orgId, 'a@x.test');
  const [first] = await target.waitForWrites(1, 15_000, 'creds');
  expect(first.headers.authorization).toBe('Bearer tok-1');

  setToken('tok-2');
  await new Promise((r) => setTimeout(r, 300)); // the watch delivers the change
  await addUser(rig.db.pool, orgId, 'b@x.test');
  const writes = await target.waitForWrites(2, 15_000, 'creds');
  expect(writes.find((w) => w.email === 'b@x.test')?.headers.authorization).toBe('Bearer tok-2');

  // Never copied into Postgres: no table holds the credential.
  const { rows } = await rig.db.pool.query<{ n: number }>(
    `select (select count(*) from organizations where spec::text like '%tok-%') + (select count(*) from reconcile_status where coalesce(last_plan::text, '') || coalesce(last_error, '') like '%tok-%') as n`,
  );
  expect(Number(rows[0].n)).toBe(0);
  await eventually(() => target.members('creds').length === 2, 5000, 'both granted');
});
