// `scimsync operator` end to end: a real operator child process against the loopback fake
// apiserver (CRD validation on), real Postgres, and a real SCIM ingress for the token checks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOrganization } from '../src/store/orgs.js';
import { killAllCli } from './helpers/cli.js';
import { condition, eventually, PUBLIC_URL, scimConfig, scimStatus, secretToken, startOperatorRig, type OperatorRig } from './helpers/operator.js';

let rig: OperatorRig;
let ingress: string;

beforeAll(async () => {
  rig = await startOperatorRig();
  await rig.startOperator('operator-0');
  ingress = (await rig.startIngress()).base;
});

afterAll(async () => {
  await killAllCli();
  await rig?.close();
});

const get = (name: string, ns = 'default') => rig.fake.get('scimconfigs', ns, name);
const secret = (name: string, ns = 'default') => rig.fake.get('secrets', ns, `${name}-scim-token`);

describe('scimsync operator', () => {
  it('create → finalizer, token Secret and Ready status within 2 s; the token works over SCIM', async () => {
    const started = Date.now();
    rig.fake.create('scimconfigs', scimConfig('acme', { organization: 'acme' }));
    const ready = await eventually(() => condition(get('acme'), 'Ready')?.status === 'True' && get('acme'), 5000, 'Ready');
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(2000);
    const s = secret('acme');
    expect(s?.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('scimsync');
    expect(s?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'ScimConfig', name: 'acme', uid: ready.metadata.uid, controller: true });
    const token = secretToken(s)!;
    expect(Buffer.from((s!.data as Record<string, string>).endpoint, 'base64').toString()).toBe(`${PUBLIC_URL}/scim/v2/acme`);
    expect(ready.metadata.finalizers).toContain('scimsync.io/revoke-token');
    const status = ready.status as Record<string, unknown>;
    expect(status).toMatchObject({ observedGeneration: ready.metadata.generation, endpoint: `${PUBLIC_URL}/scim/v2/acme`, tokenSecretName: 'acme-scim-token' });
    expect(status.tokenCreatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(status.counts).toMatchObject({ users: 0, activeUsers: 0, groups: 0, heldRevocations: 0, driftTotal: 0 });
    expect(condition(ready, 'TokenIssued')).toMatchObject({ status: 'True', reason: 'TokenIssued' });
    const org = await findOrganization(rig.db.pool, 'acme');
    expect(org?.owner).toMatchObject({ kind: 'kubernetes', ref: 'default/acme', uid: ready.metadata.uid });
    expect(await scimStatus(ingress, 'acme', token)).toBe(200);
    const events = rig.fake.list('events', 'default').filter((e) => (e.regarding as { name: string }).name === 'acme');
    expect(events.map((e) => e.reason)).toContain('TokenIssued');
    expect(events[0]).toMatchObject({ reportingController: 'scimsync.io/operator', reportingInstance: 'operator-0', action: 'IssueToken' });
  });
});
