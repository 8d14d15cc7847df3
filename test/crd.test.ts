// The ScimConfig CRD: generated from the zod schema (npm run generate), kept in deploy/crds/,
// structural (https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema)
// and valid against apiextensions.k8s.io/v1's own schema.
import { readFile } from 'node:fs/promises';
import { parse as parseCel } from '@bufbuild/cel';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { scimConfigCrd } from '../src/orgs/crd.js';
import { CRD_FILE, crdYaml } from '../src/orgs/crdYaml.js';
import { toStructural, type Schema } from '../src/orgs/structuralSchema.js';

const ROOT = new URL('..', import.meta.url);
type Version = { schema: { openAPIV3Schema: Schema }; additionalPrinterColumns: { name: string; type: string; jsonPath: string }[] };
const version = () => (scimConfigCrd().spec as { versions: Version[] }).versions[0];

/** Every schema node with its path, depth first. */
function* nodes(s: Schema, path = ''): Generator<[string, Schema]> {
  yield [path, s];
  for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) yield* nodes(v, `${path}.${k}`);
  if (s.items) yield* nodes(s.items as Schema, `${path}[]`);
}

describe('ScimConfig CRD', () => {
  it(`${CRD_FILE} is what npm run generate writes now`, async () => {
    const onDisk = await readFile(new URL(CRD_FILE, ROOT), 'utf8');
    expect(onDisk, 'the CRD is stale: run `npm run generate` and commit deploy/crds/').toBe(crdYaml());
  });

  it('is a valid apiextensions.k8s.io/v1 CustomResourceDefinition (kubernetes-models)', () => {
    expect(() => new CustomResourceDefinition(parse(crdYaml())).validate()).not.toThrow();
  });

  it('has the names, scope, version and subresource issue 8 asks for', () => {
    const crd = scimConfigCrd() as { metadata: { name: string }; spec: Record<string, unknown> };
    expect(crd.metadata.name).toBe('scimconfigs.scimsync.io');
    expect(crd.spec).toMatchObject({
      group: 'scimsync.io',
      scope: 'Namespaced',
      names: { kind: 'ScimConfig', plural: 'scimconfigs', singular: 'scimconfig', shortNames: ['scimcfg'] },
      versions: [{ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } }],
    });
  });

  it('is structural: a type on every node (or int-or-string), no unions, $ref or additionalProperties: false', () => {
    for (const [path, s] of nodes(version().schema.openAPIV3Schema)) {
      expect(s.type ?? s['x-kubernetes-int-or-string'], `${path}: type`).toBeTruthy();
      for (const k of ['anyOf', 'oneOf', 'allOf', 'not', '$ref', '$defs', 'const', '$schema']) expect(s, `${path}: ${k}`).not.toHaveProperty(k);
      expect(s.additionalProperties, `${path}: additionalProperties`).not.toBe(false);
      if (s.nullable === false || (s.default === null && !s.nullable)) throw new Error(`${path}: default null needs nullable`);
    }
  });

  it('keeps defaults, enums, patterns and bounds; durations are int-or-string with the duration pattern', () => {
    const spec = version().schema.openAPIV3Schema.properties as Record<string, Schema>;
    const p = (spec.spec as Schema).properties as Record<string, Schema>;
    expect(p.onDelete).toMatchObject({ type: 'string', enum: ['keep', 'revokeAll'], default: 'keep', description: expect.stringContaining('revoke them all') });
    expect(p.tokenRotationGracePeriod).toMatchObject({ 'x-kubernetes-int-or-string': true, default: '1h', minimum: 0 });
    expect(new RegExp(p.tokenRotationGracePeriod.pattern as string).test('90s')).toBe(true);
    expect(new RegExp(p.tokenRotationGracePeriod.pattern as string).test('soon')).toBe(false);
    expect(p.organization).toMatchObject({ type: 'string', maxLength: 63, pattern: expect.any(String) });
    const guard = (p.revocationGuard.properties as Record<string, Schema>).maxCount;
    expect(guard).toMatchObject({ type: 'integer', minimum: 0, nullable: true, default: 10 });
    expect(guard).not.toHaveProperty('maximum');
    const target = p.target;
    expect(target.properties).toMatchObject({ type: { type: 'string', enum: ['http', 'postgres'] } });
    expect((target.properties as Record<string, Schema>).postgres).not.toHaveProperty('default');
  });

  it('organization is immutable (CEL transition rule) and the target union is tied by CEL; every rule parses', () => {
    const spec = (version().schema.openAPIV3Schema.properties as Record<string, Schema>).spec;
    const org = (spec.properties as Record<string, Schema>).organization;
    expect(org['x-kubernetes-validations']).toEqual([{ rule: 'self == oldSelf', message: 'spec.organization is immutable' }]);
    let rules = 0;
    for (const [path, s] of nodes(version().schema.openAPIV3Schema)) {
      for (const r of (s['x-kubernetes-validations'] ?? []) as { rule: string }[]) {
        expect(() => parseCel(r.rule), `${path}: ${r.rule}`).not.toThrow();
        rules++;
      }
    }
    expect(rules).toBe(3);
  });

  it('status is hand-written: conditions are a map list keyed by type in metav1.Condition shape', () => {
    const status = (version().schema.openAPIV3Schema.properties as Record<string, Schema>).status;
    const conditions = (status.properties as Record<string, Schema>).conditions;
    expect(conditions).toMatchObject({ type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] });
    expect((conditions.items as Schema).properties).toMatchObject({ status: { enum: ['True', 'False', 'Unknown'] }, lastTransitionTime: { format: 'date-time' } });
    expect(Object.keys(status.properties as object)).toEqual([
      'observedGeneration', 'endpoint', 'tokenSecretName', 'tokenCreatedAt', 'lastFullSyncTime',
      'lastHandledRotation', 'lastHandledApproval', 'lastHandledReconcileAt', 'counts', 'conditions',
    ]);
  });

  it('printer columns: Ready, Reason, Endpoint, Token-Created, Last-Sync, Drift, Age', () => {
    expect(version().additionalPrinterColumns.map((c) => `${c.name}:${c.type}:${c.jsonPath}`)).toEqual([
      'Ready:string:.status.conditions[?(@.type=="Ready")].status',
      'Reason:string:.status.conditions[?(@.type=="Ready")].reason',
      'Endpoint:string:.status.endpoint',
      'Token-Created:date:.status.tokenCreatedAt',
      'Last-Sync:date:.status.lastFullSyncTime',
      'Drift:integer:.status.counts.driftTotal',
      'Age:date:.metadata.creationTimestamp',
    ]);
  });
});

describe('toStructural', () => {
  it('refuses what has no structural form instead of writing an invalid CRD', () => {
    expect(() => toStructural({ anyOf: [{ type: 'string' }, { type: 'boolean' }] }, 'x')).toThrow(/no structural form/);
    expect(() => toStructural({ $ref: '#/$defs/a' }, 'x')).toThrow(/\$ref/);
    expect(() => toStructural({ type: ['string', 'boolean'] }, 'x')).toThrow(/no structural form/);
  });

  it('T | null becomes nullable; const becomes a one-value enum; exclusiveMinimum becomes OpenAPI 3.0 boolean', () => {
    expect(toStructural({ anyOf: [{ type: 'string', minLength: 1 }, { type: 'null' }], default: null })).toEqual({ type: 'string', minLength: 1, nullable: true, default: null });
    expect(toStructural({ type: 'string', const: 'http' })).toEqual({ type: 'string', enum: ['http'] });
    expect(toStructural({ type: 'integer', exclusiveMinimum: 0, maximum: Number.MAX_SAFE_INTEGER })).toEqual({ type: 'integer', minimum: 0, exclusiveMinimum: true });
  });
});
