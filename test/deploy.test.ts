// Every object in deploy/ against Kubernetes' own schemas (kubernetes-models 4.5.1, which runs on
// Node 20), the sample ScimConfig against the CRD (as the apiserver would) and the zod schema (as
// `scimsync start --config` would), and the properties the manifests promise.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { scimConfigDocument } from '../src/orgs/scimConfig.js';
import { makeCrdValidator } from './fakeApiserver/validateCrd.js';

const DEPLOY = fileURLToPath(new URL('../deploy/', import.meta.url));

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: any };
const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition,
  'apps/v1/Deployment': Deployment,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
};

// Not Kubernetes manifests: Prometheus rule files and their promtool unit tests (proven by
// test/deploy/rules.test.ts with promtool, and shipped by the chart as a PrometheusRule).
const NOT_MANIFESTS = new Set([path.join(DEPLOY, 'prometheus')]);

async function yamlFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && NOT_MANIFESTS.has(p)) continue;
    if (e.isDirectory()) out.push(...(await yamlFiles(p)));
    else if (/\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

const objects: { file: string; obj: K8sObject }[] = [];
beforeAll(async () => {
  for (const file of await yamlFiles(DEPLOY)) {
    for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
      expect(doc.errors, file).toEqual([]);
      const obj = doc.toJS() as K8sObject | null;
      if (obj) objects.push({ file: path.relative(DEPLOY, file), obj });
    }
  }
});

const of = (kind: string) => objects.filter((o) => o.obj.kind === kind).map((o) => o.obj);
const byName = (kind: string, name: string) => of(kind).find((o) => o.metadata.name === name);

describe('deploy/', () => {
  it('every object validates against its Kubernetes schema; ScimConfigs against the CRD and the zod schema', () => {
    const crd = byName('CustomResourceDefinition', 'scimconfigs.scimsync.io');
    expect(crd).toBeDefined();
    const validateCr = makeCrdValidator(crd!);
    let scimConfigs = 0;
    for (const { file, obj } of objects) {
      const where = `${file}: ${obj.kind}/${obj.metadata?.name}`;
      if (obj.apiVersion === 'scimsync.io/v1alpha1' && obj.kind === 'ScimConfig') {
        expect(validateCr(structuredClone(obj)), where).toEqual([]);
        const local = scimConfigDocument.safeParse(obj);
        expect(local.success, `${where}: ${local.error?.message}`).toBe(true);
        scimConfigs++;
        continue;
      }
      const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
      expect(Model, `${where}: no schema known for ${obj.apiVersion} ${obj.kind}`).toBeDefined();
      expect(() => new Model(obj as never).validate(), where).not.toThrow();
    }
    expect(scimConfigs).toBeGreaterThan(0);
    expect(of('Deployment').map((d) => d.metadata.name).sort()).toEqual(['scimsync-ingress', 'scimsync-operator', 'scimsync-reconciler']);
  });

  it('a schema violation is caught (the check is not vacuous)', () => {
    const d = structuredClone(byName('Deployment', 'scimsync-ingress')!);
    d.spec.replicas = 'two';
    expect(() => new Deployment(d as never).validate()).toThrow(/replicas/);
  });

  it('Deployments run hardened: non-root, read-only root with an emptyDir /tmp, no privilege escalation, no capabilities, RuntimeDefault seccomp, probes on /healthz and /readyz', () => {
    for (const d of of('Deployment')) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext, d.metadata.name).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.volumes).toContainEqual({ name: 'tmp', emptyDir: expect.any(Object) });
      for (const c of pod.containers) {
        expect(c.securityContext, d.metadata.name).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
        expect(c.livenessProbe.httpGet.path).toBe('/healthz');
        expect(c.readinessProbe.httpGet.path).toBe('/readyz');
        expect(c.env).toContainEqual({ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'scimsync-database', key: 'url' } } });
      }
      // Selector matches the pod template (the apiserver refuses a Deployment where it does not).
      expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
    }
  });

  it('each part runs its command: ingress without the in-process reconciler, operator twice', () => {
    const ingress = byName('Deployment', 'scimsync-ingress')!.spec.template.spec;
    expect(ingress.containers[0].args).toEqual(['start']);
    expect(ingress.containers[0].env).toContainEqual({ name: 'RECONCILER_ENABLED', value: 'false' });
    expect(ingress.automountServiceAccountToken).toBe(false);
    expect(byName('Deployment', 'scimsync-reconciler')!.spec.template.spec.containers[0].args).toEqual(['reconcile']);
    const operator = byName('Deployment', 'scimsync-operator')!;
    expect(operator.spec.replicas).toBe(2);
    expect(operator.spec.template.spec.containers[0].args).toEqual(['operator']);
    const service = byName('Service', 'scimsync')!;
    expect(byName('Deployment', 'scimsync-ingress')!.spec.template.metadata.labels).toMatchObject(service.spec.selector);
  });

  it('RBAC: bindings name existing roles and service accounts; the operator gets exactly the verbs it calls', () => {
    for (const b of [...of('RoleBinding'), ...of('ClusterRoleBinding')]) {
      expect(byName(b.roleRef.kind, b.roleRef.name), `${b.metadata.name} → ${b.roleRef.name}`).toBeDefined();
      for (const s of b.subjects) expect(byName('ServiceAccount', s.name), `${b.metadata.name} → ${s.name}`).toMatchObject({ metadata: { namespace: s.namespace } });
    }
    const used = (d: K8sObject) => d.spec.template.spec.serviceAccountName;
    expect(used(byName('Deployment', 'scimsync-operator')!)).toBe('scimsync');
    expect(used(byName('Deployment', 'scimsync-reconciler')!)).toBe('scimsync-reconciler');
    const rules = (kind: string, name: string) =>
      (byName(kind, name)!.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]).flatMap((r) =>
        r.apiGroups.flatMap((g) => r.resources.map((res) => `${g || 'core'}/${res}: ${r.verbs.join(',')}`)),
      );
    expect(rules('ClusterRole', 'scimsync-operator')).toEqual([
      'scimsync.io/scimconfigs: get,list,watch,patch',
      'scimsync.io/scimconfigs/status: patch',
      'scimsync.io/scimconfigs/finalizers: update',
      'core/secrets: get,list,watch,create,update',
      'events.k8s.io/events: create',
    ]);
    expect(rules('Role', 'scimsync-leader-election')).toEqual(['coordination.k8s.io/leases: get,create,update']);
    expect(rules('ClusterRole', 'scimsync-reconciler-secrets')).toEqual(['core/secrets: get,list,watch']);
  });
});
