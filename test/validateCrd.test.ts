// The fake apiserver's CRD validation (test/fakeApiserver/validateCrd.ts) against the real
// ScimConfig CRD from deploy/crds/: what kubectl apply would be told, field path by field path.
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseScimConfigs } from '../src/orgs/scimConfig.js';
import { makeCrdSchema, makeCrdValidator, type CrdSchema } from './fakeApiserver/validateCrd.js';

let crd: object;
let validate: ReturnType<typeof makeCrdValidator>;
let schema: CrdSchema;
beforeAll(async () => {
  crd = parse(await readFile(new URL('../deploy/crds/scimconfigs.scimsync.io.yaml', import.meta.url), 'utf8'));
  validate = makeCrdValidator(crd);
  schema = makeCrdSchema(crd);
});

/** Local mode's verdict: the document written to a YAML file and read as `scimsync start --config` does. */
function local(doc: object): { success: boolean; error?: string } {
  try {
    parseScimConfigs(stringify(doc), 'local.yaml');
    return { success: true };
  } catch (e) {
    return { success: false, error: (e as Error).message };
  }
}

const sample = (spec: Record<string, unknown> = {}) => ({
  apiVersion: 'scimsync.io/v1alpha1',
  kind: 'ScimConfig',
  metadata: { name: 'acme', namespace: 'idp', labels: { team: 'a' }, annotations: { 'scimsync.io/rotate-token': '1' } },
  spec: { organization: 'acme', ...spec } as Record<string, unknown>,
});

describe('makeCrdValidator (ScimConfig CRD)', () => {
  it('a valid ScimConfig passes and gets the defaults the apiserver applies', () => {
    const obj = sample({ roleMappings: [{ group: 'Admins', role: 'admin' }], target: { type: 'http', http: { baseUrl: 'https://app.example/scim' } } });
    expect(validate(obj)).toEqual([]);
    expect(obj.spec).toMatchObject({
      defaultRole: 'member',
      onDelete: 'keep',
      tokenRotationGracePeriod: '1h',
      roleMappings: [{ group: 'Admins', role: 'admin', teams: [] }],
      revocationGuard: { enabled: true, maxFraction: 0.1, maxCount: 10, window: '1h' },
      target: { type: 'http', http: { baseUrl: 'https://app.example/scim', timeout: '10s', maxRetries: 5 } },
    });
    expect(obj.spec.target).not.toHaveProperty('postgres');
  });

  it('defaults nest: a missing target becomes postgres with its column defaults', () => {
    const obj = sample();
    expect(validate(obj)).toEqual([]);
    expect(obj.spec.target).toEqual({
      type: 'postgres',
      postgres: { table: 'app_memberships', pageSize: 1000, columns: { organization: 'organization', email: 'email', role: 'role', teams: 'teams', displayName: null, externalId: null } },
    });
  });

  it('wrong type: maxCount as a string is FieldValueTypeInvalid at spec.revocationGuard.maxCount, and CEL is not run', () => {
    const errors = validate(sample({ revocationGuard: { maxCount: 'ten' } }));
    expect(errors[0]).toEqual({
      field: 'spec.revocationGuard.maxCount',
      reason: 'FieldValueTypeInvalid',
      message: 'Invalid value: "string": spec.revocationGuard.maxCount in body must be of type integer: "ten"',
    });
    expect(errors.at(-1)!.message).toMatch(/some validation rules were not checked/);
  });

  it('bad enum, pattern, bounds and a duration that is not one', () => {
    const errors = validate(sample({ onDelete: 'delete', membership: 'everyone', revocationGuard: { maxFraction: 2, maxCount: -1 }, resyncInterval: 'soon', organization: 'Not_A_Slug' }));
    expect(errors).toEqual(
      expect.arrayContaining([
        { field: 'spec.onDelete', reason: 'FieldValueNotSupported', message: 'Unsupported value: "delete": supported values: "keep", "revokeAll"' },
        expect.objectContaining({ field: 'spec.membership', reason: 'FieldValueNotSupported' }),
        expect.objectContaining({ field: 'spec.revocationGuard.maxFraction', message: expect.stringContaining('should be less than or equal to 1') }),
        expect.objectContaining({ field: 'spec.revocationGuard.maxCount', message: expect.stringContaining('should be greater than or equal to 0') }),
        expect.objectContaining({ field: 'spec.resyncInterval', message: expect.stringContaining('should match') }),
        expect.objectContaining({ field: 'spec.organization', message: expect.stringContaining('should match') }),
      ]),
    );
    expect(errors).toHaveLength(6);
  });

  it('int-or-string: a whole number of milliseconds passes, a fraction or a boolean does not', () => {
    expect(validate(sample({ resyncInterval: 60000 }))).toEqual([]);
    expect(validate(sample({ resyncInterval: 1.5 }))[0]).toMatchObject({ field: 'spec.resyncInterval', reason: 'FieldValueTypeInvalid' });
    expect(validate(sample({ resyncInterval: true }))[0]).toMatchObject({ field: 'spec.resyncInterval', reason: 'FieldValueTypeInvalid' });
  });

  it('required fields and minLength', () => {
    expect(validate({ ...sample(), spec: { roleMappings: [{ group: '', role: 'x' }] } })).toEqual(
      expect.arrayContaining([
        { field: 'spec.organization', reason: 'FieldValueRequired', message: 'Required value' },
        expect.objectContaining({ field: 'spec.roleMappings[0].group', message: expect.stringContaining('should be at least 1 chars long') }),
      ]),
    );
    expect(validate({ apiVersion: 'scimsync.io/v1alpha1', kind: 'ScimConfig', metadata: { name: 'x' } })).toEqual([{ field: 'spec', reason: 'FieldValueRequired', message: 'Required value' }]);
  });

  it('unknown fields (strict field validation) are named by their full path; metadata is the apiserver’s own', () => {
    const obj = sample({ roleMapping: [], revocationGuard: { maxcount: 3 }, target: { type: 'http', http: { baseUrl: 'https://a.example', tokenSecretRef: { name: 'a', key: 'b', namespace: 'c' } } } });
    expect(validate(obj).map((e) => e.message)).toEqual([
      'unknown field "spec.roleMapping"',
      'unknown field "spec.revocationGuard.maxcount"',
      'unknown field "spec.target.http.tokenSecretRef.namespace"',
    ]);
    expect(schema.unknownFields(sample())).toEqual([]);
    schema.prune(obj);
    expect(obj.spec).not.toHaveProperty('roleMapping');
    expect(obj.spec.revocationGuard).toEqual({});
  });

  it('the target union is tied by CEL: type http needs http and refuses postgres', () => {
    expect(validate(sample({ target: { type: 'http' } }))).toEqual([
      { field: 'spec.target', reason: 'FieldValueInvalid', message: 'Invalid value: "object": type "http" requires http and forbids postgres' },
    ]);
    expect(validate(sample({ target: { type: 'postgres', http: { baseUrl: 'https://a.example' } } }))).toEqual([
      { field: 'spec.target', reason: 'FieldValueInvalid', message: 'Invalid value: "object": type "postgres" forbids http' },
    ]);
    expect(validate(sample({ target: { type: 'postgres' } }))).toEqual([]);
  });

  it('spec.organization is immutable: an update that changes it fails with the rule message, other changes pass', () => {
    const old = sample();
    validate(old);
    expect(validate(sample({ organization: 'globex' }), old)).toEqual([
      { field: 'spec.organization', reason: 'FieldValueInvalid', message: 'Invalid value: "string": spec.organization is immutable' },
    ]);
    expect(validate(sample({ dryRun: true }), old)).toEqual([]);
    // A transition rule does not run on create.
    expect(validate(sample({ organization: 'globex' }))).toEqual([]);
  });

  it('status: conditions are a map list keyed by type (duplicates refused) in metav1.Condition shape', () => {
    const ready = { type: 'Ready', status: 'True', reason: 'Converged', message: '', lastTransitionTime: '2026-12-01T00:00:00Z' };
    expect(validate({ ...sample(), status: { observedGeneration: 1, conditions: [ready], counts: { drift: { missing: 0 }, driftTotal: 0 } } })).toEqual([]);
    expect(validate({ ...sample(), status: { conditions: [ready, { ...ready, status: 'Yes', lastTransitionTime: 'yesterday' }] } })).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'status.conditions[1]', reason: 'FieldValueDuplicate' }),
        expect.objectContaining({ field: 'status.conditions[1].status', reason: 'FieldValueNotSupported' }),
        expect.objectContaining({ field: 'status.conditions[1].lastTransitionTime', message: expect.stringContaining('must be of type date-time') }),
      ]),
    );
  });
});

describe('local mode agrees with the apiserver (issue 8)', () => {
  // Each spec is judged by the zod schema (local YAML files) and by the CRD (the apiserver).
  const cases: [string, Record<string, unknown>][] = [
    ['minimal', {}],
    ['http target', { target: { type: 'http', http: { baseUrl: 'https://a.example', tokenSecretRef: { name: 's', key: 'token' } } } }],
    ['postgres target with secret', { target: { type: 'postgres', postgres: { connection: { urlSecretRef: { name: 's', key: 'url' } }, columns: { teams: null } } } }],
    ['durations as numbers', { resyncInterval: 60000, tokenRotationGracePeriod: 0 }],
    ['revokeAll', { onDelete: 'revokeAll', dryRun: true }],
    ['typo roleMapping', { roleMapping: [] }],
    ['typo dryrun', { dryrun: true }],
    ['nested typo', { revocationGuard: { maxcount: 1 } }],
    ['bad onDelete', { onDelete: 'purge' }],
    ['bad duration', { tokenRotationGracePeriod: 'an hour' }],
    ['fractional duration', { resyncInterval: 0.5 }],
    ['negative duration', { resyncInterval: -1 }],
    ['http without http', { target: { type: 'http' } }],
    ['both targets', { target: { type: 'http', http: { baseUrl: 'https://a.example' }, postgres: {} } }],
    ['maxFraction > 1', { revocationGuard: { maxFraction: 1.5 } }],
    ['maxRetries not integer', { target: { type: 'http', http: { baseUrl: 'https://a.example', maxRetries: 1.5 } } }],
    ['pageSize 0', { target: { type: 'postgres', postgres: { pageSize: 0 } } }],
    ['empty role', { roleMappings: [{ group: 'g', role: '' }] }],
    ['long organization', { organization: 'a'.repeat(64) }],
    ['relative baseUrl', { target: { type: 'http', http: { baseUrl: '/scim' } } }],
    ['ftp baseUrl', { target: { type: 'http', http: { baseUrl: 'ftp://a.example/x' } } }],
    ['http baseUrl with port', { target: { type: 'http', http: { baseUrl: 'http://127.0.0.1:8081/scim' } } }],
  ];
  it.each(cases)('%s', (_name, spec) => {
    const apiserver = validate(sample(spec));
    expect(apiserver.length === 0, JSON.stringify(apiserver)).toBe(local(sample(spec)).success);
  });
});

describe('local mode agrees with the apiserver on generated specs', () => {
  // Every field optional and mostly valid, sometimes wrong (type, range, pattern, enum), sometimes
  // a typo'd key: about half the specs are valid, and the two verdicts must match on every one.
  const mostly = <T,>(valid: T[], invalid: unknown[]) =>
    fc.oneof({ weight: 15, arbitrary: fc.constantFrom(...valid) }, { weight: 1, arbitrary: fc.constantFrom(...invalid) });
  const duration = mostly(['5m', '250ms', '1.5h', ' 2d ', 0, 60000], [-1, 1.5, 'soon', '5 minutes', true, null]);
  const str = mostly(['x', 'Admins'], ['', 3, null]);
  const optional = { requiredKeys: [] as never[] };
  const spec = fc.record(
    {
      roleMappings: fc.array(fc.record({ group: str, role: str, teams: fc.array(str, { maxLength: 2 }) }, { requiredKeys: ['group', 'role'] }), { maxLength: 2 }),
      defaultRole: str,
      membership: mostly(['allUsers', 'mappedGroupsOnly'], ['all', 1]),
      protectedMembers: fc.array(str, { maxLength: 2 }),
      dryRun: mostly([true, false], ['true', null]),
      resyncInterval: duration,
      tokenRotationGracePeriod: duration,
      onDelete: mostly(['keep', 'revokeAll'], ['delete', null]),
      revocationGuard: fc.record(
        { enabled: mostly([true, false], [1]), maxFraction: mostly([0, 0.5, 1, null], [1.5, -0.1, '0.1']), maxCount: mostly([0, 10, null], [-1, 2.5]), window: duration },
        optional,
      ),
      target: fc.oneof(
        fc.record({
          type: mostly(['http'], ['postgres', 'ldap']),
          http: fc.record({ baseUrl: mostly(['https://a.example/x', 'http://127.0.0.1:1'], ['/x', 'ftp://a', 'nope']), maxRetries: mostly([0, 20], [21, 1.5]), tokenSecretRef: fc.record({ name: str, key: str }) }, { requiredKeys: ['baseUrl'] }),
        }),
        fc.record(
          { type: mostly(['postgres'], ['http']), postgres: fc.record({ table: str, pageSize: mostly([1, 10000], [0, 10001]), columns: fc.record({ teams: mostly(['teams', null], ['']), email: str }, optional) }, optional) },
          { requiredKeys: ['type'] },
        ),
      ),
    },
    optional,
  );
  const organization = mostly(['acme', 'a-b', 'a'.repeat(63), undefined], ['Acme', '-a', 'a'.repeat(64), 7]);
  const typo = mostly([undefined], ['dryrun', 'roleMapping', 'revocationguard']);

  it('zod and the CRD accept exactly the same specs', () => {
    let accepted = 0;
    fc.assert(
      fc.property(spec, organization, typo, (s, org, key) => {
        const doc = sample({ ...s, organization: org, ...(key ? { [key as string]: {} } : {}) });
        if (org === undefined) delete doc.spec.organization;
        const verdict = local(doc);
        const apiserver = validate(structuredClone(doc));
        accepted += verdict.success ? 1 : 0;
        expect(apiserver.length === 0, `local: ${verdict.error ?? 'ok'}; apiserver: ${JSON.stringify(apiserver)}`).toBe(verdict.success);
      }),
      { numRuns: 1000, seed: 8 },
    );
    // Not vacuous: both verdicts occur often.
    expect(accepted).toBeGreaterThan(150);
    expect(accepted).toBeLessThan(850);
  });
});
