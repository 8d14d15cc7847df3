// `scimsync operator` end to end: a real operator child process against the loopback fake
// apiserver (CRD validation on), real Postgres, and a real SCIM ingress for the token checks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOrganization } from '../src/store/orgs.js';
import { cliEnv, killAllCli, runCli } from './helpers/cli.js';
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
const eventReasons = (name: string, ns = 'default') =>
  rig.fake.list('events', ns).filter((e) => (e.regarding as { name: string }).name === name).map((e) => e.reason as string);
/** The organization's audit trail as `scimsync audit <org> --json` prints it, oldest first: [actor, operation, resource id]. */
async function audit(org: string): Promise<[string, string, string][]> {
  const r = await runCli(['audit', org, '--json', '--limit', '100'], cliEnv({ DATABASE_URL: rig.db.url, LOG_LEVEL: 'warn' }));
  expect(r.code).toBe(0);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)).reverse().map((e) => [e.actor, e.operation, e.resourceId]);
}
const prefixOf = (token: string) => /^scimsync_([a-z0-9]{10})_/.exec(token)![1]!;

describe('scimsync operator', () => {
  it('create → finalizer, token Secret and Ready status within 2 s; the token works over SCIM', async () => {
    const started = Date.now();
    rig.fake.create('scimconfigs', scimConfig('acme', { organization: 'acme' }));
    const ready = await eventually(() => condition(get('acme'), 'Ready')?.status === 'True' && get('acme'), 5000, 'Ready');
    const elapsed = Date.now() - started;
    process.stderr.write(`operator apply → Ready (Secret written): ${elapsed} ms\n`);
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
    const events = await eventually(() => {
      const list = rig.fake.list('events', 'default').filter((e) => (e.regarding as { name: string }).name === 'acme');
      return list.length > 0 && list;
    }, 5000, 'Event');
    expect(events.map((e) => e.reason)).toEqual(['TokenIssued']);
    expect(events[0]).toMatchObject({ reportingController: 'scimsync.io/operator', reportingInstance: 'operator-0', action: 'IssueToken' });
  });

  it('a spec change moves status.observedGeneration and the organization spec; status writes leave generation alone', async () => {
    rig.fake.create('scimconfigs', scimConfig('gen', { organization: 'gen' }));
    const first = await eventually(() => condition(get('gen'), 'Ready')?.status === 'True' && get('gen'), 5000);
    const generation = first.metadata.generation!;
    expect((first.status as { observedGeneration: number }).observedGeneration).toBe(generation);
    rig.fake.patch('scimconfigs', 'default', 'gen', { spec: { defaultRole: 'viewer' } });
    const after = await eventually(() => {
      const o = get('gen');
      return (o?.status as { observedGeneration?: number })?.observedGeneration === generation + 1 && o;
    }, 5000, 'observedGeneration');
    expect(after.metadata.generation).toBe(generation + 1);
    expect(condition(after, 'Ready')?.lastTransitionTime).toBe(condition(first, 'Ready')?.lastTransitionTime);
    expect((await findOrganization(rig.db.pool, 'gen'))?.spec).toMatchObject({ defaultRole: 'viewer' });
  });

  it('rotation annotation → new token in the Secret, old token valid for the grace period, then refused', async () => {
    rig.fake.create('scimconfigs', scimConfig('rot', { organization: 'rot', tokenRotationGracePeriod: '2s' }));
    await eventually(() => condition(get('rot'), 'Ready')?.status === 'True', 5000);
    const oldToken = secretToken(secret('rot'))!;
    rig.fake.patch('scimconfigs', 'default', 'rot', { metadata: { annotations: { 'scimsync.io/rotate-token': 'r1' } } });
    const rotated = await eventually(() => (get('rot')?.status as { lastHandledRotation?: string })?.lastHandledRotation === 'r1' && get('rot'), 5000, 'rotation');
    const newToken = secretToken(secret('rot'))!;
    expect(newToken).not.toBe(oldToken);
    expect(await scimStatus(ingress, 'rot', newToken)).toBe(200);
    expect(await scimStatus(ingress, 'rot', oldToken)).toBe(200); // within the grace period
    await eventually(async () => (await scimStatus(ingress, 'rot', oldToken)) === 401, 5000, 'old token refused after the grace period');
    expect(await scimStatus(ingress, 'rot', newToken)).toBe(200);
    await eventually(() => eventReasons('rot').includes('TokenRotated'), 5000, 'TokenRotated Event');
    // The same annotation value again does nothing.
    rig.fake.patch('scimconfigs', 'default', 'rot', { metadata: { labels: { touched: 'yes' } } });
    await new Promise((r) => setTimeout(r, 500));
    expect(secretToken(secret('rot'))).toBe(newToken);
    expect(rotated.metadata.uid).toBe(get('rot')!.metadata.uid);
    // Audited as the operator: the first token, the rotation's token, the old one's grace period.
    expect(await audit('rot')).toEqual([
      ['operator', 'token.create', prefixOf(oldToken)],
      ['operator', 'token.rotate', prefixOf(newToken)],
      ['operator', 'token.expire', prefixOf(oldToken)],
    ]);
  });

  it('a deleted Secret is reissued (Event TokenReissued) and the old token is refused over SCIM', async () => {
    rig.fake.create('scimconfigs', scimConfig('lost', { organization: 'lost' }));
    await eventually(() => condition(get('lost'), 'Ready')?.status === 'True' && secret('lost'), 5000);
    const oldToken = secretToken(secret('lost'))!;
    rig.fake.delete('secrets', 'default', 'lost-scim-token');
    const fresh = await eventually(() => {
      const t = secretToken(secret('lost'));
      return t && t !== oldToken && t;
    }, 5000, 'reissued Secret');
    expect(await scimStatus(ingress, 'lost', oldToken)).toBe(401);
    expect(await scimStatus(ingress, 'lost', fresh)).toBe(200);
    await eventually(() => eventReasons('lost').includes('TokenReissued'), 5000, 'TokenReissued Event');
    // A Secret edited to hold something else is reissued the same way.
    rig.fake.patch('secrets', 'default', 'lost-scim-token', { data: { token: Buffer.from('scimsync_aaaaaaaaaa_bogus').toString('base64') } });
    const third = await eventually(() => {
      const t = secretToken(secret('lost'));
      return t && t !== fresh && t.length > 40 && t;
    }, 5000, 'Secret repaired');
    expect(await scimStatus(ingress, 'lost', fresh)).toBe(401);
    expect(await scimStatus(ingress, 'lost', third)).toBe(200);
    expect(await audit('lost')).toEqual([
      ['operator', 'token.create', prefixOf(oldToken)],
      ['operator', 'token.revoke', prefixOf(oldToken)],
      ['operator', 'token.create', prefixOf(fresh)],
      ['operator', 'token.revoke', prefixOf(fresh)],
      ['operator', 'token.create', prefixOf(third)],
    ]);
  });

  it('delete → SCIM answers 401 before the object is gone; only our finalizer is removed', async () => {
    const obj = scimConfig('gone', { organization: 'gone' });
    obj.metadata.finalizers = ['example.com/keep-me'];
    rig.fake.create('scimconfigs', obj);
    await eventually(() => condition(get('gone'), 'Ready')?.status === 'True' && secret('gone'), 5000);
    const token = secretToken(secret('gone'))!;
    expect(await scimStatus(ingress, 'gone', token)).toBe(200);
    const started = Date.now();
    rig.fake.delete('scimconfigs', 'default', 'gone');
    await eventually(async () => (await scimStatus(ingress, 'gone', token)) === 401, 5000, '401');
    const toFirst401 = Date.now() - started;
    process.stderr.write(`operator delete → first SCIM 401: ${toFirst401} ms\n`);
    expect(toFirst401).toBeLessThan(2000);
    // Our finalizer goes; the other one stays, so the object is still there (Terminating).
    const terminating = await eventually(() => {
      const o = get('gone');
      return o && !o.metadata.finalizers?.includes('scimsync.io/revoke-token') && o;
    }, 5000, 'finalizer removed');
    expect(terminating.metadata.deletionTimestamp).toBeTruthy();
    expect(terminating.metadata.finalizers).toEqual(['example.com/keep-me']);
    expect((await findOrganization(rig.db.pool, 'gone'))?.deletedAt).toBeTruthy();
    expect((await audit('gone')).at(-1)).toEqual(['operator', 'organization.delete', 'gone']);
    rig.fake.patch('scimconfigs', 'default', 'gone', { metadata: { finalizers: [] } });
    await eventually(() => !get('gone'), 5000, 'object gone');
    expect(await scimStatus(ingress, 'gone', token)).toBe(401);
  });

  it('a second ScimConfig naming an owned organization → Ready=False OrganizationConflict, nothing changed', async () => {
    rig.fake.create('scimconfigs', scimConfig('first', { organization: 'shared' }, { namespace: 'team-a' }));
    await eventually(() => condition(get('first', 'team-a'), 'Ready')?.status === 'True', 5000);
    const before = await findOrganization(rig.db.pool, 'shared');
    rig.fake.create('scimconfigs', scimConfig('second', { organization: 'shared', defaultRole: 'admin' }, { namespace: 'team-b' }));
    const c = await eventually(() => condition(get('second', 'team-b'), 'Ready')?.reason === 'OrganizationConflict' && condition(get('second', 'team-b'), 'Ready'), 5000);
    expect(c.status).toBe('False');
    expect(c.message).toContain('team-a/first');
    expect(rig.fake.get('secrets', 'team-b', 'second-scim-token')).toBeUndefined();
    const after = await findOrganization(rig.db.pool, 'shared');
    expect(after?.owner).toEqual(before?.owner);
    expect(after?.spec).toEqual(before?.spec);
    await eventually(() => rig.fake.list('events', 'team-b').some((e) => e.reason === 'OrganizationConflict'), 5000, 'conflict Event');
    // A condition that stays the same emits nothing new (the reconcile repeats on resync/requeue).
    rig.fake.patch('scimconfigs', 'team-b', 'second', { metadata: { labels: { again: '1' } } });
    await new Promise((r) => setTimeout(r, 300));
    expect(rig.fake.list('events', 'team-b').filter((e) => e.reason === 'OrganizationConflict')).toHaveLength(1);
    // Deleting the loser leaves the winner's organization and token alone.
    const token = secretToken(rig.fake.get('secrets', 'team-a', 'first-scim-token'))!;
    rig.fake.delete('scimconfigs', 'team-b', 'second');
    await eventually(() => !get('second', 'team-b'), 5000, 'loser gone');
    expect(await scimStatus(ingress, 'shared', token)).toBe(200);
  });
});

describe('scimsync operator: annotations and onDelete', () => {
  const members = async (org: string) =>
    (await rig.db.pool.query<{ email: string }>(`select email from app_memberships where organization = $1::text order by email`, [org])).rows.map((r) => r.email);
  const seed = async (org: string, emails: string[]) => {
    for (const e of emails) await rig.db.pool.query(`insert into app_memberships (organization, email, role) values ($1::text, $2::text, 'member')`, [org, e]);
  };

  it('approve-revocations approves held revocations and queues a pass; requested-sync-at queues a full pass; both echoed', async () => {
    rig.fake.create('scimconfigs', scimConfig('ann', { organization: 'ann' }));
    await eventually(() => condition(get('ann'), 'Ready')?.status === 'True', 5000);
    const org = (await findOrganization(rig.db.pool, 'ann'))!;
    await rig.db.pool.query(`insert into reconcile_holds (organization_id, email, reason) values ($1::uuid, 'a@x.test', 'deprovisioned'), ($1::uuid, 'b@x.test', 'deprovisioned')`, [org.id]);
    rig.fake.patch('scimconfigs', 'default', 'ann', { metadata: { labels: { poke: '1' } } });
    const held = await eventually(() => condition(get('ann'), 'RevocationsHeld')?.status === 'True' && get('ann'), 5000, 'RevocationsHeld');
    expect((held.status as { counts: { heldRevocations: number } }).counts.heldRevocations).toBe(2);
    expect(condition(held, 'Ready')).toMatchObject({ status: 'False', reason: 'RevocationsHeld' });
    await eventually(() => eventReasons('ann').includes('RevocationsHeld'), 5000, 'RevocationsHeld Event');
    await rig.db.pool.query(`delete from reconcile_queue where organization_id = $1::uuid`, [org.id]);
    rig.fake.patch('scimconfigs', 'default', 'ann', { metadata: { annotations: { 'scimsync.io/approve-revocations': 'ok-1', 'scimsync.io/requested-sync-at': '2026-12-01T00:00:00Z' } } });
    const after = await eventually(() => (get('ann')?.status as { lastHandledApproval?: string })?.lastHandledApproval === 'ok-1' && get('ann'), 5000, 'approval handled');
    expect((after.status as { lastHandledReconcileAt?: string }).lastHandledReconcileAt).toBe('2026-12-01T00:00:00Z');
    const { rows } = await rig.db.pool.query<{ n: number }>(`select count(*)::int as n from reconcile_holds where organization_id = $1::uuid and approved_at is not null`, [org.id]);
    expect(rows[0].n).toBe(2);
    const queued = await rig.db.pool.query(`select 1 from reconcile_queue where organization_id = $1::uuid and user_id is null`, [org.id]);
    expect(queued.rowCount).toBe(1);
    expect(condition(after, 'Ready')?.status).toBe('True'); // nothing unapproved is held now
    expect((await audit('ann')).filter(([, op]) => op === 'holds.approve')).toEqual([['operator', 'holds.approve', '2']]);
  });

  it('onDelete revokeAll revokes the members (protected ones kept) through the guard; held ones keep the object until approved', async () => {
    rig.fake.create('scimconfigs', scimConfig('ra', { organization: 'ra', onDelete: 'revokeAll', protectedMembers: ['boss@x.test'], revocationGuard: { maxCount: 2, maxFraction: null } }));
    await eventually(() => condition(get('ra'), 'Ready')?.status === 'True', 5000);
    await seed('ra', ['a@x.test', 'b@x.test', 'boss@x.test', 'c@x.test', 'd@x.test']);
    rig.fake.delete('scimconfigs', 'default', 'ra');
    // Two revocations fit the guard's window; the other two are held and the object stays.
    await eventually(() => condition(get('ra'), 'RevocationsHeld')?.status === 'True', 5000, 'held on delete');
    expect(await members('ra')).toHaveLength(3);
    expect(get('ra')?.metadata.finalizers).toContain('scimsync.io/revoke-token');
    rig.fake.patch('scimconfigs', 'default', 'ra', { metadata: { annotations: { 'scimsync.io/approve-revocations': 'yes' } } });
    await eventually(() => !get('ra'), 5000, 'object gone after approval');
    expect(await members('ra')).toEqual(['boss@x.test']);
  });

  it('onDelete keep (the default) leaves the members in the target', async () => {
    rig.fake.create('scimconfigs', scimConfig('kp', { organization: 'kp' }));
    await eventually(() => condition(get('kp'), 'Ready')?.status === 'True', 5000);
    await seed('kp', ['a@x.test', 'b@x.test']);
    rig.fake.delete('scimconfigs', 'default', 'kp');
    await eventually(() => !get('kp'), 5000, 'object gone');
    expect(await members('kp')).toEqual(['a@x.test', 'b@x.test']);
  });
});
