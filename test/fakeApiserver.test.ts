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
  KubernetesObjectApi,
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
    spec: extra.spec ?? { organization: name || 'generated' },
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
function rawWatch(path: string, query: Record<string, string | number | boolean | undefined>) {
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
      { ...G, namespace: 'default', name: 'acme', body: { spec: { dryRun: true }, metadata: { labels: { c: 'd' } }, status: { observedGeneration: 1 } } },
      merge,
    )) as Obj;
    expect(st.status).toEqual({ observedGeneration: 1 });
    expect(st.spec.dryRun).toBe(false);
    expect(st.metadata.labels).toEqual({ a: 'b' });
    expect(st.metadata.generation).toBe(1);
    // status in a main-resource write is ignored
    const main = (await custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { status: { observedGeneration: 99 }, spec: { dryRun: true } } }, merge)) as Obj;
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
    await custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { spec: { dryRun: true } } }, merge);
    const put = await apiError(custom.replaceNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: o }));
    expect(put.body).toMatchObject({ code: 409, reason: 'Conflict' });
    expect(put.body.message).toContain('the object has been modified; please apply your changes to the latest version and try again');
    const patch = await apiError(
      custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { metadata: { resourceVersion: o.metadata.resourceVersion }, spec: { defaultRole: 'admin' } } }, merge),
    );
    expect(patch.code).toBe(409);
    const { resourceVersion: _drop, ...meta } = o.metadata;
    const noRv = await apiError(custom.replaceNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { ...o, metadata: meta } }));
    expect(noRv.body).toMatchObject({ code: 422, details: { causes: [{ field: 'metadata.resourceVersion' }] } });
  });

  it('an update carrying the uid of a deleted and re-created object is refused (uid is immutable)', async () => {
    const old = await create(scimConfig('acme'));
    await custom.deleteNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme' });
    const fresh = await create(scimConfig('acme'));
    const e = await apiError(custom.replaceNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { ...old, metadata: { ...old.metadata, resourceVersion: fresh.metadata.resourceVersion } } }));
    expect(e.body).toMatchObject({ code: 422, details: { causes: [{ field: 'metadata.uid' }] } });
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
    const sm = await apiError(custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { spec: { dryRun: true } } }, strategic));
    expect(sm.body).toMatchObject({ code: 415, reason: 'UnsupportedMediaType' });
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 's' }, data: { a: 'YQ==' } } });
    const s = await core.patchNamespacedSecret({ namespace: 'default', name: 's', body: { data: { b: 'Yg==' } } }, strategic);
    expect(s.data).toEqual({ a: 'YQ==', b: 'Yg==' });
  });
});

describe('CRD schema (deploy/crds/scimconfigs.scimsync.io.yaml)', () => {
  it('applies the schema defaults on create', async () => {
    const o = await create(scimConfig('acme'));
    expect(o.spec).toMatchObject({ organization: 'acme', defaultRole: 'member', membership: 'allUsers', target: { type: 'postgres' } });
  });

  it('an invalid spec is a 422 Invalid naming every field, shaped like metav1.Status', async () => {
    const bad = await apiError(create(scimConfig('acme', { spec: { organization: 'Not Valid', revocationGuard: { maxCount: -1 } } })));
    expect(bad.body).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 422, reason: 'Invalid', details: { name: 'acme', group: 'scimsync.io', kind: 'ScimConfig' } });
    expect(bad.body.message).toMatch(/^ScimConfig\.scimsync\.io "acme" is invalid: \[spec\.organization: .*spec\.revocationGuard\.maxCount: /);
    expect(bad.body.details.causes.map((c: any) => c.field).sort()).toEqual(['spec.organization', 'spec.revocationGuard.maxCount']);
    expect((await custom.listClusterCustomObject({ ...G })).items).toEqual([]);
  });

  it('CEL rule self == oldSelf keeps spec.organization immutable (merge and JSON patch, PUT)', async () => {
    const o = await create(scimConfig('acme'));
    const viaMerge = await apiError(custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { spec: { organization: 'other' } } }, merge));
    expect(viaMerge.body).toMatchObject({ code: 422, details: { causes: [{ field: 'spec.organization', message: expect.stringContaining('spec.organization is immutable') }] } });
    const viaJson = await apiError(custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: [{ op: 'replace', path: '/spec/organization', value: 'other' }] }));
    expect(viaJson.code).toBe(422);
    const viaPut = await apiError(custom.replaceNamespacedCustomObject({ ...G, namespace: 'default', name: 'acme', body: { ...o, spec: { ...o.spec, organization: 'other' } } }));
    expect(viaPut.code).toBe(422);
    expect((await getCr('acme')).spec.organization).toBe('acme');
  });

  it('unknown fields: 400 with fieldValidation=Strict (kubectl), pruned with a Warning header by default', async () => {
    const strict = await apiError(custom.createNamespacedCustomObject({ ...G, namespace: 'default', body: scimConfig('acme', { spec: { organization: 'acme', roleMapping: [] } }), fieldValidation: 'Strict' }));
    expect(strict.body).toMatchObject({ code: 400, reason: 'BadRequest', message: 'strict decoding error: unknown field "spec.roleMapping"' });
    const r = await fetch(`${fake.url}/apis/scimsync.io/v1alpha1/namespaces/default/scimconfigs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(scimConfig('acme', { spec: { organization: 'acme', roleMapping: [] } })),
    });
    expect(r.status).toBe(201);
    expect(r.headers.get('warning')).toBe('299 - "unknown field \\"spec.roleMapping\\""');
    expect((await getCr('acme')).spec.roleMapping).toBeUndefined();
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
    await custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'after', body: { spec: { dryRun: true } } }, merge);
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

describe('more verbs', () => {
  it('deletecollection with a label selector, dryRun=All stores nothing, apply patch is refused (415)', async () => {
    await create(scimConfig('a', { metadata: { name: 'a', labels: { env: 'test' } } }));
    await create(scimConfig('b', { metadata: { name: 'b', labels: { env: 'prod' } } }));
    await custom.deleteCollectionNamespacedCustomObject({ ...G, namespace: 'default', labelSelector: 'env=test' });
    expect((await custom.listNamespacedCustomObject({ ...G, namespace: 'default' })).items.map((i: Obj) => i.metadata.name)).toEqual(['b']);
    const dry = (await custom.createNamespacedCustomObject({ ...G, namespace: 'default', body: scimConfig('c'), dryRun: 'All' })) as Obj;
    expect(dry.metadata.uid).toBeTruthy();
    expect((await apiError(getCr('c'))).code).toBe(404);
    const apply = await apiError(custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'b', body: { spec: {} }, fieldManager: 'x' }, setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply)));
    expect(apply.code).toBe(415);
  });

  it('deleting a namespace empties it (finalizers honoured) and then removes it', async () => {
    await core.createNamespace({ body: { metadata: { name: 'team' } } });
    await create(scimConfig('plain'), 'team');
    await create(scimConfig('held', { metadata: { name: 'held', finalizers: ['scimsync.io/revoke-token'] } }), 'team');
    await core.createNamespacedSecret({ namespace: 'team', body: { metadata: { name: 's' } } });
    await core.deleteNamespace({ name: 'team' });
    expect((await core.readNamespace({ name: 'team' })).status!.phase).toBe('Terminating');
    expect((await apiError(create(scimConfig('late'), 'team'))).code).toBe(403);
    await waitFor(async () => (await custom.listNamespacedCustomObject({ ...G, namespace: 'team' })).items.length === 1);
    const held = await getCr('held', 'team');
    expect(held.metadata.deletionTimestamp).toBeTruthy();
    await custom.patchNamespacedCustomObject({ ...G, namespace: 'team', name: 'held', body: { metadata: { finalizers: null } } }, merge);
    await waitFor(async () => (await apiError(core.readNamespace({ name: 'team' }))).code === 404);
  });

  it('garbage collector deletes a dependent whose owner never existed, and drops only the dangling reference when another owner remains', async () => {
    const owner = await create(scimConfig('acme'));
    const ghost = { apiVersion: 'scimsync.io/v1alpha1', kind: 'ScimConfig', name: 'ghost', uid: '00000000-0000-0000-0000-000000000000' };
    const real = { apiVersion: 'scimsync.io/v1alpha1', kind: 'ScimConfig', name: 'acme', uid: owner.metadata.uid! };
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'orphan', ownerReferences: [ghost] } } });
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'shared', ownerReferences: [ghost, real] } } });
    await waitFor(async () => (await apiError(core.readNamespacedSecret({ namespace: 'default', name: 'orphan' }))).code === 404);
    await fake.gcSettled();
    expect((await core.readNamespacedSecret({ namespace: 'default', name: 'shared' })).metadata!.ownerReferences!.map((r) => r.name)).toEqual(['acme']);
  });

  it('watch with sendInitialEvents ends the initial state with an annotated bookmark; a fieldSelector watch sees one object', async () => {
    await create(scimConfig('a'));
    await create(scimConfig('b'));
    const w = rawWatch('/apis/scimsync.io/v1alpha1/namespaces/default/scimconfigs', { sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan', allowWatchBookmarks: true, fieldSelector: 'metadata.name=b' });
    await waitFor(() => w.events.length >= 2);
    expect(w.events[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'b' } } });
    expect(w.events[1]).toMatchObject({ type: 'BOOKMARK', object: { metadata: { annotations: { 'k8s.io/initial-events-end': 'true' } } } });
    await custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'a', body: { metadata: { labels: { x: '1' } } } }, merge);
    await custom.patchNamespacedCustomObject({ ...G, namespace: 'default', name: 'b', body: { metadata: { labels: { x: '1' } } } }, merge);
    await waitFor(() => w.events.some((e) => e.type === 'MODIFIED'));
    expect(w.events.filter((e) => e.type === 'MODIFIED').map((e) => e.object.metadata.name)).toEqual(['b']);
    (await w.ctl).abort();
  });

  const cond = (type: string, status: string, reason: string) => ({ type, status, reason, message: '', lastTransitionTime: '2026-12-01T00:00:00Z', observedGeneration: 1 });
  it('kubectl support: Table with the CRD printer columns (dates as ages), OpenAPI v3 saying PATCH takes fieldValidation', async () => {
    await create(scimConfig('acme'));
    await custom.patchNamespacedCustomObjectStatus(
      { ...G, namespace: 'default', name: 'acme', body: { status: { endpoint: 'http://x/scim/v2/acme/', tokenCreatedAt: new Date(Date.now() - 300_000).toISOString(), conditions: [cond('Synced', 'True', 'Converged'), cond('Ready', 'False', 'InvalidSpec')] } } },
      merge,
    );
    const accept = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
    const t: any = await (await fetch(`${fake.url}/apis/scimsync.io/v1alpha1/namespaces/default/scimconfigs`, { headers: { accept } })).json();
    expect(t.kind).toBe('Table');
    expect(t.columnDefinitions.map((c: any) => c.name)).toEqual(['Name', 'Ready', 'Reason', 'Endpoint', 'Token-Created', 'Last-Sync', 'Drift', 'Age']);
    expect(t.rows[0].cells).toEqual(['acme', 'False', 'InvalidSpec', 'http://x/scim/v2/acme/', '5m', null, null, expect.stringMatching(/^\d+s$/)]);
    expect(t.rows[0].object).toMatchObject({ kind: 'PartialObjectMetadata', metadata: { name: 'acme' } });
    const root: any = await (await fetch(`${fake.url}/openapi/v3`)).json();
    const gv: any = await (await fetch(`${fake.url}${root.paths['apis/scimsync.io/v1alpha1'].serverRelativeURL}`)).json();
    const patch = gv.paths['/apis/scimsync.io/v1alpha1/namespaces/{namespace}/scimconfigs/{name}'].patch;
    expect(patch.parameters.map((p: any) => p.name)).toContain('fieldValidation');
    expect(Object.keys(patch.requestBody.content)).not.toContain('application/strategic-merge-patch+json');
  });

  it('KubernetesObjectApi (which resolves kinds through discovery) creates, reads and merge-patches', async () => {
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const created = await objects.create(scimConfig('acme', { metadata: { name: 'acme', namespace: 'default' } }));
    expect(created.metadata!.generation).toBe(1);
    const read = (await objects.read({ apiVersion: 'scimsync.io/v1alpha1', kind: 'ScimConfig', metadata: { name: 'acme', namespace: 'default' } })) as Obj;
    expect(read.metadata.uid).toBe(created.metadata!.uid);
    const patched = (await objects.patch({ apiVersion: 'scimsync.io/v1alpha1', kind: 'ScimConfig', metadata: { name: 'acme', namespace: 'default' }, spec: { dryRun: true } } as Obj, undefined, undefined, undefined, undefined, PatchStrategy.MergePatch)) as Obj;
    expect(patched.metadata.generation).toBe(2);
    // Its default patch strategy is strategic merge: refused for a custom resource, as on a real cluster.
    const sm = await apiError(objects.patch({ apiVersion: 'scimsync.io/v1alpha1', kind: 'ScimConfig', metadata: { name: 'acme', namespace: 'default' }, spec: { dryRun: false } } as Obj));
    expect(sm.code).toBe(415);
    const secret = await objects.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'default' }, stringData: { a: 'b' } } as KubernetesObject);
    expect((secret as V1Secret).data).toEqual({ a: 'Yg==' });
  });

  it('discovery lists the served resources (for KubernetesObjectApi and kubectl)', async () => {
    const r: any = await (await fetch(`${fake.url}/apis/scimsync.io/v1alpha1`)).json();
    expect(r.resources.map((x: any) => x.name)).toEqual(['scimconfigs', 'scimconfigs/status']);
    expect(r.resources[0]).toMatchObject({ kind: 'ScimConfig', namespaced: true, shortNames: ['scimcfg'] });
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

  it('silenceWatches: the watch stays open and delivers nothing more', async () => {
    const w = rawWatch('/apis/scimsync.io/v1alpha1/scimconfigs', {});
    await waitFor(() => fake.openWatches() === 1);
    expect(fake.faults.silenceWatches()).toBe(1);
    await create(scimConfig('unseen'));
    await new Promise((r) => setTimeout(r, 100));
    expect(w.events).toEqual([]);
    expect(fake.openWatches()).toBe(1);
    (await w.ctl).abort();
    await waitFor(() => fake.openWatches() === 0);
  });

  it('endWatchesAfter ends each new watch after N seconds (client sees a clean end)', async () => {
    fake.faults.endWatchesAfter(0.2);
    const w = rawWatch('/api/v1/namespaces', {});
    await waitFor(() => w.done() === null, 2000);
    expect(w.events.length).toBe(4); // default, kube-system, kube-public, kube-node-lease
  });

  it('restart: connections refused while down, same objects after, older watch versions get 410', async () => {
    const o = await create(scimConfig('acme'));
    await create(scimConfig('second'));
    const w = rawWatch('/apis/scimsync.io/v1alpha1/scimconfigs', { resourceVersion: o.metadata.resourceVersion });
    await waitFor(() => fake.openWatches() === 1);
    const back = fake.faults.restart(300);
    await waitFor(() => w.done() !== 'open');
    const down = await custom.listClusterCustomObject({ ...G }).then(() => 'up', (e) => String(e.code ?? e.message));
    expect(down).toMatch(/ECONNREFUSED/);
    await back;
    expect((await getCr('acme')).metadata.uid).toBe(o.metadata.uid);
    const again = rawWatch('/apis/scimsync.io/v1alpha1/scimconfigs', { resourceVersion: o.metadata.resourceVersion });
    await waitFor(() => again.done() !== 'open');
    expect(again.events[0]).toMatchObject({ type: 'ERROR', object: { code: 410 } });
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

describe('pure parts', () => {
  it('merge patch follows RFC 7386 Appendix A', async () => {
    const { mergePatch } = await import('./fakeApiserver/patch.js');
    const cases: [unknown, unknown, unknown][] = [
      [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
      [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
      [{ a: 'b' }, { a: null }, {}],
      [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
      [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
      [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
      [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
      [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
      [['a', 'b'], ['c', 'd'], ['c', 'd']],
      [{ a: 'b' }, ['c'], ['c']],
      [{ a: 'foo' }, null, null],
      [{ a: 'foo' }, 'bar', 'bar'],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [[1, 2], { a: 'b', c: null }, { a: 'b' }],
      [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    ];
    for (const [target, patch, want] of cases) expect(mergePatch(target, patch)).toEqual(want);
  });

  it('JSON patch: RFC 6902 operations, pointer escapes, all-or-nothing', async () => {
    const { jsonPatch } = await import('./fakeApiserver/patch.js');
    const doc = { metadata: { annotations: { 'scimsync.io/rotate-token': 'r1' }, finalizers: ['a', 'b'] }, spec: { x: 1 } };
    expect(
      jsonPatch(doc, [
        { op: 'remove', path: '/metadata/annotations/scimsync.io~1rotate-token' },
        { op: 'add', path: '/metadata/finalizers/-', value: 'c' },
        { op: 'move', from: '/spec/x', path: '/spec/y' },
        { op: 'copy', from: '/spec/y', path: '/spec/z' },
        { op: 'test', path: '/metadata/finalizers', value: ['a', 'b', 'c'] },
      ]),
    ).toEqual({ metadata: { annotations: {}, finalizers: ['a', 'b', 'c'] }, spec: { y: 1, z: 1 } });
    expect(() => jsonPatch(doc, [{ op: 'add', path: '/spec/w', value: 1 }, { op: 'test', path: '/spec/x', value: 2 }])).toThrow(/test failed/);
    expect(doc.spec).toEqual({ x: 1 }); // the input is never modified
  });

  it('label selectors: equality, set-based, existence', async () => {
    const { parseLabelSelector } = await import('./fakeApiserver/selectors.js');
    const o = (labels: Record<string, string>) => ({ metadata: { labels } });
    const m = parseLabelSelector('app.kubernetes.io/managed-by=scimsync,tier in (gold, silver),!legacy,env notin (prod)');
    expect(m(o({ 'app.kubernetes.io/managed-by': 'scimsync', tier: 'gold' }))).toBe(true);
    expect(m(o({ 'app.kubernetes.io/managed-by': 'scimsync', tier: 'gold', legacy: '' }))).toBe(false);
    expect(m(o({ 'app.kubernetes.io/managed-by': 'scimsync', tier: 'bronze' }))).toBe(false);
    expect(m(o({ 'app.kubernetes.io/managed-by': 'scimsync', tier: 'silver', env: 'prod' }))).toBe(false);
    expect(() => parseLabelSelector('a in b')).toThrow(/unable to parse/);
  });
});
