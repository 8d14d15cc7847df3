// The fake apiserver (test/fakeApiserver/) driven through the real @kubernetes/client-node 1.4,
// as the operator will drive it. Each test pins one Kubernetes API semantic the operator relies on.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubeConfig,
  PatchStrategy,
  Watch,
  makeInformer,
  setHeaderOptions,
  type KubernetesObject,
  type V1Secret,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeApiserver, type FakeApiserver } from './fakeApiserver/index.js';

const G = { group: 'scimsync.io', version: 'v1alpha1', plural: 'scimconfigs' };
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const strategic = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

type Obj = KubernetesObject & { spec?: any; status?: any; metadata: NonNullable<KubernetesObject['metadata']> };

let fake: FakeApiserver;
let kc: KubeConfig;
let custom: CustomObjectsApi;
let core: CoreV1Api;

async function apiError(p: Promise<unknown>): Promise<{ code: number; body: any; headers: Record<string, string> }> {
  try {
    await p;
  } catch (e: any) {
    const body = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
    return { code: e.code, body, headers: e.headers };
  }
  throw new Error('expected the request to fail');
}

function scimConfig(name: string, extra: Partial<Obj> = {}): Obj {
  return {
    apiVersion: 'scimsync.io/v1alpha1',
    kind: 'ScimConfig',
    ...extra,
    metadata: { name, ...(extra.metadata ?? {}) },
    spec: extra.spec ?? { organization: name, target: { type: 'http' } },
  };
}

const create = (o: Obj, namespace = 'default') => custom.createNamespacedCustomObject({ ...G, namespace, body: o }) as Promise<Obj>;
const getCr = (name: string, namespace = 'default') => custom.getNamespacedCustomObject({ ...G, namespace, name }) as Promise<Obj>;

async function waitFor<T>(fn: () => T | Promise<T>, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      if (Date.now() > end) throw e;
    }
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Raw watch lines through client-node's Watch (what makeInformer uses underneath). */
function rawWatch(path: string, query: Record<string, unknown>) {
  const events: { type: string; object: any }[] = [];
  let done: unknown = 'open';
  const w = new Watch(kc);
  const ctl = w.watch(path, query, (type, object) => events.push({ type, object }), (err) => (done = err ?? null));
  return { events, done: () => done, ctl };
}

beforeEach(async () => {
  fake = await startFakeApiserver({ bookmarkIntervalMs: 100, gcDelayMs: 10 });
  kc = new KubeConfig();
  kc.loadFromOptions(fake.kubeConfigOptions());
  custom = kc.makeApiClient(CustomObjectsApi);
  core = kc.makeApiClient(CoreV1Api);
});
afterEach(async () => {
  await fake.stop();
});

describe('objects', () => {
  it('create sets uid, creationTimestamp, resourceVersion and generation 1; status on create is dropped', async () => {
    const o = await create(scimConfig('acme', { status: { phase: 'x' } } as Partial<Obj>));
    expect(o.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(o.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Number(o.metadata.resourceVersion)).toBeGreaterThan(Number(fake.resourceVersion()) - 1);
    expect(o.metadata.generation).toBe(1);
    expect(o.status).toBeUndefined();
    expect((await getCr('acme')).metadata.uid).toBe(o.metadata.uid);
  });

  it('answers 409 AlreadyExists, 404 NotFound and 404 for a missing namespace as metav1.Status', async () => {
    await create(scimConfig('acme'));
    const dup = await apiError(create(scimConfig('acme')));
    expect(dup.code).toBe(409);
    expect(dup.body).toMatchObject({ kind: 'Status', reason: 'AlreadyExists', code: 409, message: 'scimconfigs.scimsync.io "acme" already exists' });
    const missing = await apiError(getCr('nope'));
    expect(missing.body).toMatchObject({ reason: 'NotFound', code: 404, details: { name: 'nope', group: 'scimsync.io', kind: 'scimconfigs' } });
    expect((await apiError(create(scimConfig('x'), 'nowhere'))).body).toMatchObject({ code: 404, message: 'namespaces "nowhere" not found' });
  });

  it('generateName gets a random suffix; a body without name or generateName is a 422', async () => {
    const o = await create({ ...scimConfig(''), metadata: { generateName: 'acme-' } });
    expect(o.metadata.name).toMatch(/^acme-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    const bad = await apiError(create({ ...scimConfig(''), metadata: {} }));
    expect(bad.body).toMatchObject({ code: 422, reason: 'Invalid', details: { causes: [{ field: 'metadata.name', reason: 'FieldValueRequired' }] } });
  });

  it('one resourceVersion counter across kinds, increasing with every write', async () => {
    const a = await create(scimConfig('a'));
    const s = await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 's' }, stringData: { token: 't' } } });
    const b = await create(scimConfig('b'));
    const rvs = [a.metadata.resourceVersion, s.metadata!.resourceVersion, b.metadata.resourceVersion].map(Number);
    expect(rvs[1]).toBe(rvs[0] + 1);
    expect(rvs[2]).toBe(rvs[1] + 1);
    expect(s.data).toEqual({ token: Buffer.from('t').toString('base64') });
    expect((s as any).stringData).toBeUndefined();
  });

  it('lists namespaced and cluster-wide with label and field selectors', async () => {
    await core.createNamespace({ body: { metadata: { name: 'team-b' } } });
    await create(scimConfig('a', { metadata: { name: 'a', labels: { tier: 'gold' } } }));
    await create(scimConfig('b', { metadata: { name: 'b', labels: { tier: 'silver' } } }));
    await create(scimConfig('c', { metadata: { name: 'c', labels: { tier: 'gold' } } }), 'team-b');
    const names = (l: any) => l.items.map((i: Obj) => `${i.metadata.namespace}/${i.metadata.name}`);
    const all = await custom.listClusterCustomObject({ ...G });
    expect(names(all)).toEqual(['default/a', 'default/b', 'team-b/c']);
    expect(all.metadata.resourceVersion).toBe(fake.resourceVersion());
    expect(names(await custom.listClusterCustomObject({ ...G, labelSelector: 'tier=gold' }))).toEqual(['default/a', 'team-b/c']);
    expect(names(await custom.listClusterCustomObject({ ...G, labelSelector: 'tier in (silver),!missing' }))).toEqual(['default/b']);
    expect(names(await custom.listNamespacedCustomObject({ ...G, namespace: 'default', fieldSelector: 'metadata.name!=a' }))).toEqual(['default/b']);
    expect(names(await custom.listClusterCustomObject({ ...G, fieldSelector: 'metadata.namespace=team-b' }))).toEqual(['team-b/c']);
    const bad = await apiError(custom.listClusterCustomObject({ ...G, fieldSelector: 'spec.organization=a' }));
    expect(bad.body).toMatchObject({ code: 400, message: 'field label not supported: spec.organization' });
    const page = await custom.listClusterCustomObject({ ...G, limit: 2 });
    expect(names(page)).toEqual(['default/a', 'default/b']);
    expect(page.metadata.remainingItemCount).toBe(1);
    expect(names(await custom.listClusterCustomObject({ ...G, limit: 2, _continue: page.metadata.continue }))).toEqual(['team-b/c']);
  });
});

describe('status subresource and generation', () => {
  it('generation bumps only on spec changes; status writes change only status; main writes ignore status', async () => {
    const o = await create(scimConfig('acme'));
    // metadata change: no bump
    const labelled = (await custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { metadata: { labels: { a: 'b' } } } }, merge)) as Obj;
    expect(labelled.metadata.generation).toBe(1);
    expect(Number(labelled.metadata.resourceVersion)).toBeGreaterThan(Number(o.metadata.resourceVersion));
    // status via /status (merge patch): only status changes, no bump
    const st = (await custom.patchNamespacedCustomObjectStatus(
      { ...G, namespace: 'default', name: 'acme', body: { spec: { organization: 'evil' }, metadata: { labels: { c: 'd' } }, status: { observedGeneration: 1 } } },
      merge,
    )) as Obj;
    expect(st.status).toEqual({ observedGeneration: 1 });
    expect(st.spec.organization).toBe('acme');
    expect(st.metadata.labels).toEqual({ a: 'b' });
    expect(st.metadata.generation).toBe(1);
    // status in a main-resource write is ignored
    const main = (await custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { status: { observedGeneration: 99 }, spec: { organization: 'acme2' } } }, merge)) as Obj;
    expect(main.status).toEqual({ observedGeneration: 1 });
    expect(main.metadata.generation).toBe(2);
    // PUT of status
    const put = (await custom.replaceNamespacedCustomObjectStatus({ ...G, namespace: 'default', name: 'acme', body: { ...main, status: { observedGeneration: 2 } } })) as Obj;
    expect(put.status).toEqual({ observedGeneration: 2 });
    expect(put.metadata.generation).toBe(2);
  });

  it('a write that changes nothing keeps the resourceVersion and sends no watch event', async () => {
    const o = await create(scimConfig('acme'));
    const w = rawWatch('/apis/scimsync.io/v1alpha1/namespaces/default/scimconfigs', { resourceVersion: o.metadata.resourceVersion });
    const same = (await custom.patchNamespacedCustomObjectStatus({ ...G, namespace: 'default', name: 'acme', body: { status: null } }, merge)) as Obj;
    expect(same.metadata.resourceVersion).toBe(o.metadata.resourceVersion);
    await custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { metadata: { labels: { x: 'y' } } } }, merge);
    await waitFor(() => w.events.length === 1);
    expect(w.events[0].type).toBe('MODIFIED');
    (await w.ctl).abort();
  });
});

describe('optimistic concurrency and patches', () => {
  it('409 Conflict on a stale resourceVersion in update and merge patch; PUT of a custom resource needs one', async () => {
    const o = await create(scimConfig('acme'));
    await custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { spec: { organization: 'b' } } }, merge);
    const put = await apiError(custom.replaceNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: o }));
    expect(put.body).toMatchObject({ code: 409, reason: 'Conflict' });
    expect(put.body.message).toContain('the object has been modified; please apply your changes to the latest version and try again');
    const patch = await apiError(
      custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { metadata: { resourceVersion: o.metadata.resourceVersion }, spec: { organization: 'c' } } }, merge),
    );
    expect(patch.code).toBe(409);
    const { resourceVersion: _drop, ...meta } = o.metadata;
    const noRv = await apiError(custom.replaceNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { ...o, metadata: meta } }));
    expect(noRv.body).toMatchObject({ code: 422, details: { causes: [{ field: 'metadata.resourceVersion' }] } });
  });

  it('JSON patch (client-node default for custom objects) with a test op: 422 when the test fails, applies when it holds', async () => {
    const o = await create(scimConfig('acme', { metadata: { name: 'acme', finalizers: ['a.io/x', 'scimsync.io/revoke-token'] } }));
    const ok = (await custom.patchNamespacedCustomObject({
      ...G,
      namespace: 'default',
      name: 'acme',
      body: [
        { op: 'test', path: '/metadata/resourceVersion', value: o.metadata.resourceVersion },
        { op: 'remove', path: '/metadata/finalizers/1' },
      ],
    })) as Obj;
    expect(ok.metadata.finalizers).toEqual(['a.io/x']);
    const stale = await apiError(
      custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: [{ op: 'test', path: '/metadata/resourceVersion', value: o.metadata.resourceVersion }, { op: 'remove', path: '/metadata/finalizers/0' }] }),
    );
    expect(stale.body).toMatchObject({ code: 422, reason: 'Invalid' });
    expect(stale.body.message).toContain('test failed');
    expect(((await getCr('acme')).metadata.finalizers)).toEqual(['a.io/x']);
    const replaceStale = await apiError(
      custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: [{ op: 'replace', path: '/metadata/resourceVersion', value: o.metadata.resourceVersion }] }),
    );
    expect(replaceStale.code).toBe(409);
    const missing = await apiError(custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: [{ op: 'remove', path: '/spec/nothing/here' }] }));
    expect(missing.code).toBe(422);
  });

  it('strategic merge patch: 415 for a custom resource, accepted for a Secret', async () => {
    await create(scimConfig('acme'));
    const sm = await apiError(custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { spec: { organization: 'x' } } }, strategic));
    expect(sm.body).toMatchObject({ code: 415, reason: 'UnsupportedMediaType' });
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 's' }, data: { a: 'YQ==' } } });
    const s = await core.patchNamespacedSecret({ namespace: 'default', name: 's', body: { data: { b: 'Yg==' } } }, strategic);
    expect(s.data).toEqual({ a: 'YQ==', b: 'Yg==' });
  });
});

describe('finalizers and deletion', () => {
  it('DELETE with a finalizer sets deletionTimestamp and keeps the object; removing the last finalizer deletes it', async () => {
    await create(scimConfig('acme', { metadata: { name: 'acme', finalizers: ['scimsync.io/revoke-token'] } }));
    const marked = (await custom.deleteNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme' })) as Obj;
    expect(marked.metadata.deletionTimestamp).toBeTruthy();
    const got = await getCr('acme');
    expect(got.metadata.deletionTimestamp).toBe(marked.metadata.deletionTimestamp);
    expect(got.metadata.generation).toBe(2); // markAsDeleting bumps generation
    // A second DELETE changes nothing.
    expect(((await custom.deleteNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme' })) as Obj).metadata.resourceVersion).toBe(got.metadata.resourceVersion);
    // No new finalizers once deletion started.
    const add = await apiError(custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { metadata: { finalizers: ['scimsync.io/revoke-token', 'other.io/x'] } } }, merge));
    expect(add.body).toMatchObject({ code: 422, details: { causes: [{ field: 'metadata.finalizers', reason: 'FieldValueForbidden' }] } });
    // deletionTimestamp cannot be cleared by an update.
    const cleared = (await custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { metadata: { deletionTimestamp: null, labels: { a: 'b' } } } }, merge)) as Obj;
    expect(cleared.metadata.deletionTimestamp).toBe(marked.metadata.deletionTimestamp);
    const w = rawWatch('/apis/scimsync.io/v1alpha1/namespaces/default/scimconfigs', { resourceVersion: cleared.metadata.resourceVersion });
    await custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: [{ op: 'test', path: '/metadata/resourceVersion', value: cleared.metadata.resourceVersion }, { op: 'remove', path: '/metadata/finalizers' }] });
    expect((await apiError(getCr('acme'))).code).toBe(404);
    await waitFor(() => w.events.length === 1);
    expect(w.events[0]).toMatchObject({ type: 'DELETED', object: { metadata: { name: 'acme' } } });
    (await w.ctl).abort();
  });

  it('DELETE without finalizers removes at once; preconditions are checked', async () => {
    const o = await create(scimConfig('acme'));
    const pre = await apiError(custom.deleteNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { preconditions: { uid: 'other' } } }));
    expect(pre.code).toBe(409);
    await custom.deleteNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { preconditions: { uid: o.metadata.uid } } });
    expect((await apiError(getCr('acme'))).code).toBe(404);
  });

  it('garbage collector deletes a dependent Secret after its owner is gone (in the background)', async () => {
    const owner = await create(scimConfig('acme'));
    const ref = { apiVersion: 'scimsync.io/v1alpha1', kind: 'ScimConfig', name: 'acme', uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'acme-scim-token', ownerReferences: [ref] }, stringData: { token: 't' } } });
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'unrelated' } } });
    await fake.gcSettled();
    expect((await core.readNamespacedSecret({ namespace: 'default', name: 'acme-scim-token' })).metadata!.ownerReferences).toHaveLength(1);
    await custom.deleteNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme' });
    await waitFor(async () => (await apiError(core.readNamespacedSecret({ namespace: 'default', name: 'acme-scim-token' }))).code === 404);
    expect((await core.readNamespacedSecret({ namespace: 'default', name: 'unrelated' })).metadata!.name).toBe('unrelated');
  });
});

describe('watch', () => {
  it('makeInformer sees add, update and delete across namespaces', async () => {
    const path = '/apis/scimsync.io/v1alpha1/scimconfigs';
    const inf = makeInformer<Obj>(kc, path, () => custom.listClusterCustomObject({ ...G }) as any);
    const seen: string[] = [];
    inf.on('add', (o) => seen.push(`add ${o.metadata.name}`));
    inf.on('update', (o) => seen.push(`update ${o.metadata.name} ${o.metadata.generation}`));
    inf.on('delete', (o) => seen.push(`delete ${o.metadata.name}`));
    await create(scimConfig('before'));
    await inf.start();
    await waitFor(() => seen.includes('add before'));
    await create(scimConfig('after'));
    await custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'after', body: { spec: { organization: 'z' } } }, merge);
    await custom.deleteNamespacedCustomObject({ ...G, namespace: 'default', name: 'before' });
    await waitFor(() => seen.length === 4);
    expect(seen).toEqual(['add before', 'add after', 'update after 2', 'delete before']);
    await inf.stop();
  });

  it('a watch from a version before the retained history gets an ERROR event with a 410 Status; makeInformer re-lists', async () => {
    const o = await create(scimConfig('acme'));
    fake.compact();
    const w = rawWatch('/apis/scimsync.io/v1alpha1/scimconfigs', { resourceVersion: String(Number(o.metadata.resourceVersion) - 1) });
    await waitFor(() => w.done() !== 'open');
    expect(w.events).toEqual([{ type: 'ERROR', object: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }) }]);

    const inf = makeInformer<Obj>(kc, '/apis/scimsync.io/v1alpha1/scimconfigs', () => custom.listClusterCustomObject({ ...G }) as any);
    const errs: unknown[] = [];
    inf.on('error', (e) => errs.push(e));
    await inf.start();
    await waitFor(() => fake.openWatches() === 1);
    const lists = () => fake.requests.filter((r) => r.method === 'GET' && !r.watch && r.path.endsWith('/scimconfigs')).length;
    const before = lists();
    fake.faults.goneNextWatch(1);
    fake.faults.endWatches(); // the informer re-watches from its version and gets the 410
    await create(scimConfig('second'));
    await waitFor(() => lists() === before + 1 && fake.openWatches() === 1 && inf.list().length === 2);
    expect(errs).toEqual([]);
    await inf.stop();
  });

  it('HTTP 410 form of Gone also makes makeInformer re-list', async () => {
    const inf = makeInformer<Obj>(kc, '/apis/scimsync.io/v1alpha1/scimconfigs', () => custom.listClusterCustomObject({ ...G }) as any);
    await inf.start();
    await waitFor(() => fake.openWatches() === 1);
    fake.faults.goneNextWatch(1, 'http');
    fake.faults.endWatches();
    await create(scimConfig('x'));
    await waitFor(() => inf.list().length === 1 && fake.openWatches() === 1);
    expect(fake.requests.some((r) => r.watch && r.status === 410)).toBe(true);
    await inf.stop();
  });

  it('replays changes after a resourceVersion, sends bookmarks when asked, ends at timeoutSeconds', async () => {
    const a = await create(scimConfig('a'));
    await create(scimConfig('b'));
    await custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'a', body: { metadata: { labels: { l: '1' } } } }, merge);
    const w = rawWatch('/apis/scimsync.io/v1alpha1/namespaces/default/scimconfigs', { resourceVersion: a.metadata.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 1 });
    await waitFor(() => w.events.some((e) => e.type === 'BOOKMARK'));
    expect(w.events.slice(0, 2).map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED b', 'MODIFIED a']);
    const bm = w.events.find((e) => e.type === 'BOOKMARK')!;
    expect(bm.object).toEqual({ kind: 'ScimConfig', apiVersion: 'scimsync.io/v1alpha1', metadata: { resourceVersion: fake.resourceVersion() } });
    await waitFor(() => w.done() === null, 3000);
  });

  it('resourceVersion unset: synthetic ADDED for existing objects; selectors turn leaving objects into DELETED', async () => {
    await create(scimConfig('a', { metadata: { name: 'a', labels: { team: 'x' } } }));
    const w = rawWatch('/apis/scimsync.io/v1alpha1/scimconfigs', { labelSelector: 'team=x' });
    await waitFor(() => w.events.length === 1);
    await custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'a', body: { metadata: { labels: { team: 'y' } } } }, merge);
    await custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'a', body: { metadata: { labels: { team: 'x' } } } }, merge);
    await waitFor(() => w.events.length === 3);
    expect(w.events.map((e) => e.type)).toEqual(['ADDED', 'DELETED', 'ADDED']);
    (await w.ctl).abort();
  });
});

describe('Secrets, Leases, Events', () => {
  it('Lease: create, renew with the resourceVersion, 409 on a stale one', async () => {
    const coord = kc.makeApiClient(CoordinationV1Api);
    const l = await coord.createNamespacedLease({ namespace: 'default', body: { metadata: { name: 'scimsync-operator' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: new Date(), renewTime: new Date() } } });
    const renewed = await coord.replaceNamespacedLease({ namespace: 'default', name: 'scimsync-operator', body: { ...l, spec: { ...l.spec, renewTime: new Date(Date.now() + 1000) } } });
    // MicroTime comes back with microseconds, as the apiserver serializes it.
    expect(String(renewed.spec!.renewTime)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const stale = await apiError(coord.replaceNamespacedLease({ namespace: 'default', name: 'scimsync-operator', body: { ...l, spec: { ...l.spec, holderIdentity: 'b' } } }));
    expect(stale.code).toBe(409);
    const bad = await apiError(coord.createNamespacedLease({ namespace: 'default', body: { metadata: { name: 'x' }, spec: { leaseDurationSeconds: 0 } } }));
    expect(bad.body).toMatchObject({ code: 422, details: { causes: [{ field: 'spec.leaseDurationSeconds' }] } });
  });

  it('events.k8s.io/v1 Event: required fields are checked (422 with causes)', async () => {
    const ev = kc.makeApiClient(EventsV1Api);
    const ok = await ev.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { generateName: 'acme.' },
        eventTime: new Date() as any,
        reportingController: 'scimsync.io/operator',
        reportingInstance: 'pod-1',
        action: 'IssueToken',
        reason: 'TokenIssued',
        type: 'Normal',
        note: 'token issued',
        regarding: { apiVersion: 'scimsync.io/v1alpha1', kind: 'ScimConfig', name: 'acme', namespace: 'default' },
      },
    });
    expect(ok.metadata!.name).toMatch(/^acme\./);
    const bad = await apiError(ev.createNamespacedEvent({ namespace: 'default', body: { metadata: { name: 'e' }, eventTime: new Date() as any, reason: 'X', type: 'Info' } as any }));
    expect(bad.code).toBe(422);
    expect(bad.body.details.causes.map((c: any) => c.field).sort()).toEqual(['action', 'reportingController', 'reportingInstance', 'type']);
    const list = await ev.listNamespacedEvent({ namespace: 'default', fieldSelector: 'regarding.name=acme' });
    expect(list.items).toHaveLength(1);
  });

  it('Secret: invalid base64 is a 422, immutable Secrets refuse data changes', async () => {
    const bad = await apiError(core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 's' }, data: { k: 'not base64!' } } }));
    expect(bad.code).toBe(422);
    const s: V1Secret = await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 's' }, immutable: true, stringData: { k: 'v' } } });
    const change = await apiError(core.replaceNamespacedSecret({ namespace: 'default', name: 's', body: { ...s, data: { k: 'dw==' } } }));
    expect(change.code).toBe(422);
  });
});

describe('faults', () => {
  it('500 for the next N requests, then normal service', async () => {
    fake.faults.fail({ status: 500, count: 2, match: { path: '/scimconfigs' } });
    expect((await apiError(custom.listClusterCustomObject({ ...G }))).body).toMatchObject({ code: 500, reason: 'InternalError' });
    expect((await apiError(custom.listClusterCustomObject({ ...G }))).code).toBe(500);
    expect((await core.listNamespace()).items.length).toBeGreaterThan(0); // other paths unaffected
    expect((await custom.listClusterCustomObject({ ...G })).items).toEqual([]);
  });

  it('429 with Retry-After for a duration', async () => {
    fake.faults.fail({ status: 429, forMs: 300, retryAfterSeconds: 2 });
    const e = await apiError(core.listNamespace());
    expect(e.code).toBe(429);
    expect(e.headers['retry-after']).toBe('2');
    expect(e.body).toMatchObject({ reason: 'TooManyRequests', details: { retryAfterSeconds: 2 } });
    await new Promise((r) => setTimeout(r, 350));
    expect((await core.listNamespace()).items.length).toBeGreaterThan(0);
  });

  it('stall delays a response; dropWatches makes makeInformer report an error (it does not restart by itself)', async () => {
    fake.faults.stall({ ms: 300, count: 1 });
    const t0 = Date.now();
    await core.listNamespace();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);

    const inf = makeInformer<Obj>(kc, '/apis/scimsync.io/v1alpha1/scimconfigs', () => custom.listClusterCustomObject({ ...G }) as any);
    const errs: unknown[] = [];
    inf.on('error', (e) => errs.push(e));
    await inf.start();
    await waitFor(() => fake.openWatches() === 1);
    expect(fake.faults.dropWatches()).toBe(1);
    await waitFor(() => errs.length === 1);
    expect(fake.openWatches()).toBe(0);
    await inf.stop();
  });

  it('endWatchesAfter ends each new watch after N seconds (client sees a clean end)', async () => {
    fake.faults.endWatchesAfter(0.2);
    const w = rawWatch('/api/v1/namespaces', {});
    await waitFor(() => w.done() === null, 2000);
    expect(w.events.length).toBe(4); // default, kube-system, kube-public, kube-node-lease
  });

  it('control endpoint arms faults over HTTP', async () => {
    const r = await fetch(`${fake.url}/_fake/faults/fail`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 503, count: 1 }) });
    expect(r.status).toBe(200);
    expect((await apiError(core.listNamespace())).code).toBe(503);
    const w = rawWatch('/api/v1/namespaces', {});
    await waitFor(() => fake.openWatches() === 1);
    expect(await (await fetch(`${fake.url}/_fake/faults/dropWatches`, { method: 'POST' })).json()).toEqual({ dropped: 1 });
    await waitFor(() => w.done() !== 'open');
    const state = await (await fetch(`${fake.url}/_fake/state`)).json();
    expect(state).toMatchObject({ openWatches: 0, faultsFired: { fail: 1, dropped: 1 } });
  });
});

describe('as a child process', () => {
  it('prints its URL, writes a kubeconfig client-node loads, stops on SIGTERM', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fake-apiserver-'));
    const kubeconfig = path.join(dir, 'kubeconfig');
    const child = spawn(process.execPath, [path.resolve('node_modules/vite-node/vite-node.mjs'), 'test/fakeApiserver/main.ts', '--port', '0', '--kubeconfig', kubeconfig, '--namespace', 'scim'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const lines = createInterface(child.stdout!)[Symbol.asyncIterator]();
      const url = (await lines.next()).value as string;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await lines.next()).value).toBe(`kubeconfig ${kubeconfig}`);
      const k = new KubeConfig();
      k.loadFromFile(kubeconfig);
      expect(k.getCurrentCluster()!.server).toBe(url);
      const names = (await k.makeApiClient(CoreV1Api).listNamespace()).items.map((n) => n.metadata!.name);
      expect(names).toContain('scim');
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
    } finally {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
