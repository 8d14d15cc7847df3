// A ScimConfig whose spec the apiserver stored but the operator's schema refuses: the CRD in the
// cluster has no schema for spec (installed before the operator's, or hand-edited). The fake
// serves such a CRD here; with deploy/crds/ the apiserver itself refuses these documents.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { findOrganization } from '../src/store/orgs.js';
import { killAllCli } from './helpers/cli.js';
import { condition, eventually, scimConfig, startOperatorRig, type OperatorRig } from './helpers/operator.js';

let rig: OperatorRig;

beforeAll(async () => {
  rig = await startOperatorRig({ permissiveSpec: true });
  await rig.startOperator('operator-i');
});

afterAll(async () => {
  await killAllCli();
  await rig?.close();
});

const get = (name: string) => rig.fake.get('scimconfigs', 'default', name);
const reasons = (name: string) => rig.fake.list('events', 'default').filter((e) => (e.regarding as { name: string }).name === name).map((e) => e.reason);

it('an invalid spec → Ready=False InvalidSpec naming every problem, one Event, nothing written; fixing it → Ready', async () => {
  rig.fake.create('scimconfigs', scimConfig('typo', { organization: 'typo', roleMapping: [{ group: 'g', role: 'r' }], resyncInterval: 'often' }));
  const c = await eventually(() => condition(get('typo'), 'Ready')?.reason === 'InvalidSpec' && condition(get('typo'), 'Ready'), 5000, 'InvalidSpec');
  expect(c.status).toBe('False');
  expect(c.message).toContain('spec.roleMapping: unknown field "roleMapping" (did you mean "roleMappings"?)');
  expect(c.message).toContain('spec.resyncInterval');
  expect(condition(get('typo'), 'Synced')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
  expect(rig.fake.get('secrets', 'default', 'typo-scim-token')).toBeUndefined();
  expect(await findOrganization(rig.db.pool, 'typo')).toBeUndefined();
  await eventually(() => reasons('typo').length > 0, 5000, 'Event');
  // The same problem again (any later reconcile) emits nothing new.
  rig.fake.patch('scimconfigs', 'default', 'typo', { metadata: { labels: { again: '1' } } });
  await new Promise((r) => setTimeout(r, 300));
  expect(reasons('typo')).toEqual(['InvalidSpec']);
  // Fixed: the same object converges.
  rig.fake.update('scimconfigs', { ...get('typo')!, spec: { organization: 'typo' } });
  await eventually(() => condition(get('typo'), 'Ready')?.status === 'True', 5000, 'Ready after the fix');
  expect(rig.fake.get('secrets', 'default', 'typo-scim-token')).toBeDefined();
});
