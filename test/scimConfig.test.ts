// ScimConfig documents: strict at every level of spec (issue 7 item 10, issue 8 "Local mode must
// agree with the apiserver"): a typo is an error naming the field's full path and the document.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScimConfigs, parseScimConfigs, scimConfigSpec } from '../src/orgs/scimConfig.js';

const doc = (spec: string, metadata = '{ name: acme }') => `apiVersion: scimsync.io/v1alpha1
kind: ScimConfig
metadata: ${metadata}
spec:
${spec}
`;

function problemsOf(text: string, source = 'orgs.yaml'): string[] {
  try {
    parseScimConfigs(text, source);
  } catch (e) {
    return (e as Error).message.split('\n').slice(1).map((l) => l.replace(/^\s+- /, ''));
  }
  throw new Error('expected the document to be rejected');
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'scimsync-config-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('unknown fields are errors', () => {
  it('roleMapping: for roleMappings: (issue 8) names the field, the closest known one and the document', () => {
    const text = doc('  organization: acme') + '---\n' + doc('  organization: globex\n  roleMapping:\n    - { group: Admins, role: admin }');
    expect(problemsOf(text)).toEqual(['orgs.yaml document 2: spec.roleMapping: unknown field "roleMapping" (did you mean "roleMappings"?)']);
  });

  it('dryrun: for dryRun: (issue 7 item 10) is not silently a live run', () => {
    expect(problemsOf(doc('  organization: acme\n  dryrun: true'))).toEqual([
      'orgs.yaml document 1: spec.dryrun: unknown field "dryrun" (did you mean "dryRun"?)',
    ]);
  });

  it('nested typos are reported at their full path, every one of them', () => {
    const problems = problemsOf(
      doc(`  organization: acme
  revocationGuard: { maxcount: 3 }
  roleMappings:
    - { group: Admins, role: admin, team: [ops] }
  target:
    type: http
    http: { baseUrl: "https://app.example/scim", tokenSecretRef: { name: t, key: token, namespace: other }, timeOut: 5s }`),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'orgs.yaml document 1: spec.revocationGuard.maxcount: unknown field "maxcount" (did you mean "maxCount"?)',
        'orgs.yaml document 1: spec.roleMappings[0].team: unknown field "team" (did you mean "teams"?)',
        'orgs.yaml document 1: spec.target.http.tokenSecretRef.namespace: unknown field "namespace"',
        'orgs.yaml document 1: spec.target.http.timeOut: unknown field "timeOut" (did you mean "timeout"?)',
      ]),
    );
    expect(problems).toHaveLength(4);
  });

  it('a target block of the other type is unknown, not a near miss', () => {
    expect(problemsOf(doc('  organization: acme\n  target: { type: http, http: { baseUrl: "https://a.example" }, postgres: {} }'))).toEqual([
      'orgs.yaml document 1: spec.target.postgres: unknown field "postgres"',
    ]);
  });

  it('postgres target: columns and connection are strict too', () => {
    expect(problemsOf(doc('  organization: acme\n  target: { type: postgres, postgres: { columns: { mail: e }, connection: { URL: x } } }'))).toEqual(
      expect.arrayContaining([
        'orgs.yaml document 1: spec.target.postgres.columns.mail: unknown field "mail" (did you mean "email"?)',
        'orgs.yaml document 1: spec.target.postgres.connection.URL: unknown field "URL" (did you mean "url"?)',
      ]),
    );
  });

  it('an unknown top-level field is an error; metadata keeps what Kubernetes objects carry, status is allowed', () => {
    expect(problemsOf(doc('  organization: acme') + 'specs: {}\n')).toEqual(['orgs.yaml document 1: specs: unknown field "specs" (did you mean "spec"?)']);
    const [d] = parseScimConfigs(
      doc('  organization: acme', '{ name: acme, namespace: idp, labels: { team: a }, annotations: { x: y }, uid: 1f, generation: 3 }') + 'status: { observedGeneration: 3 }\n',
      'k.yaml',
    );
    expect(d.metadata).toMatchObject({ name: 'acme', namespace: 'idp', labels: { team: 'a' } });
  });
});

describe('empty YAML values (null) as the apiserver treats them', () => {
  it('an empty non-nullable field takes its default; an empty nullable one stays null; an empty required one is missing', () => {
    const [d] = parseScimConfigs(doc('  organization: acme\n  dryRun:\n  onDelete:\n  target:\n    type: postgres\n    postgres:\n      table:\n      columns: { teams: }'), 'k.yaml');
    expect(d.spec).toMatchObject({ dryRun: false, onDelete: 'keep', target: { postgres: { table: 'app_memberships', columns: { teams: null } } } });
    expect(problemsOf(doc('  organization:'))).toEqual([expect.stringMatching(/^orgs\.yaml document 1: spec\.organization: /)]);
  });
});

describe('operator fields (issue 8)', () => {
  it('tokenRotationGracePeriod defaults to 1h and onDelete to keep', () => {
    const spec = scimConfigSpec.parse({ organization: 'acme' });
    expect(spec.tokenRotationGracePeriod).toBe(3_600_000);
    expect(spec.onDelete).toBe('keep');
  });

  it('accepts a duration and revokeAll, rejects another onDelete value naming the options', () => {
    const spec = scimConfigSpec.parse({ organization: 'acme', tokenRotationGracePeriod: '10m', onDelete: 'revokeAll' });
    expect(spec).toMatchObject({ tokenRotationGracePeriod: 600_000, onDelete: 'revokeAll' });
    const problems = problemsOf(doc('  organization: acme\n  onDelete: delete\n  tokenRotationGracePeriod: soon'));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^orgs\.yaml document 1: spec\.onDelete: .*"keep"\|"revokeAll"/),
        'orgs.yaml document 1: spec.tokenRotationGracePeriod: must be a duration such as "30s", "5m" or "1h"',
      ]),
    );
  });
});

describe('loadScimConfigs', () => {
  it('names the file of a typo in a directory of configs', async () => {
    const dir = path.join(tmp, 'dir');
    await mkdir(dir);
    await writeFile(path.join(dir, 'a.yaml'), doc('  organization: acme'));
    await writeFile(path.join(dir, 'b.yml'), doc('  organization: globex') + '---\n' + doc('  organization: initech\n  revocationGuard:\n    maxcount: 3', '{ name: initech }'));
    await expect(loadScimConfigs(dir)).rejects.toThrow(
      `${path.join(dir, 'b.yml')} document 2: spec.revocationGuard.maxcount: unknown field "maxcount" (did you mean "maxCount"?)`,
    );
  });
});

describe('README', () => {
  it("the README's ScimConfig example is valid under the strict schema", async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const example = /```yaml\n(apiVersion: scimsync\.io\/v1alpha1\nkind: ScimConfig\n[\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const [d] = parseScimConfigs(example!, 'README.md');
    expect(d.spec.organization).toBe('acme');
  });
});
