import { describe, expect, it } from 'vitest';
import {
  extractMembers,
  normalizeResource,
  projectAttributes,
  serializeResource,
  type NormalizeMode,
} from '../src/scim/resource.js';
import { ENTERPRISE_USER_SCHEMA as ENT, GROUP_RESOURCE, GROUP_SCHEMA, USER_RESOURCE, USER_SCHEMA } from '../src/scim/schemas.js';
import { scimError } from './helpers/scimError.js';


describe('normalizeResource (User)', () => {
  const cases: { name: string; input: unknown; expected: Record<string, unknown> }[] = [
    {
      name: 'canonical case for attributes and sub-attributes',
      input: { UserName: 'a@x', NAME: { GivenName: 'A' }, Emails: [{ Value: 'a@x', TYPE: 'work', Primary: true }] },
      expected: { schemas: [USER_SCHEMA], userName: 'a@x', name: { givenName: 'A' }, emails: [{ value: 'a@x', type: 'work', primary: true }] },
    },
    {
      name: 'userName trimmed, schemas recomputed, unknown attributes dropped',
      input: { schemas: ['urn:bogus'], userName: '  a@x ', adreses: [{ country: 'DE' }], foo: 1 },
      expected: { schemas: [USER_SCHEMA], userName: 'a@x' },
    },
    {
      name: 'readOnly (id, meta, groups) ignored, password never stored',
      input: { id: 'x', meta: { created: '2020-01-01T00:00:00Z' }, groups: [{ value: 'g' }], password: 'p', userName: 'a' },
      expected: { schemas: [USER_SCHEMA], userName: 'a' },
    },
    {
      name: 'extension object kept under its canonical URN, case-insensitive',
      input: { userName: 'a', [ENT.toUpperCase()]: { Department: 'R&D', manager: { value: 'm', displayName: 'ro' } } },
      expected: { schemas: [USER_SCHEMA, ENT], userName: 'a', [ENT]: { department: 'R&D', manager: { value: 'm' } } },
    },
    {
      name: 'URN-prefixed top-level extension keys folded into the extension object',
      input: { userName: 'a', [`${ENT}:department`]: 'Ops', [`${ENT}:employeeNumber`]: 42 },
      expected: { schemas: [USER_SCHEMA, ENT], userName: 'a', [ENT]: { employeeNumber: '42', department: 'Ops' } },
    },
    {
      name: 'core attributes under the core URN key folded to the top level',
      input: { [USER_SCHEMA]: { userName: 'a', displayName: 'A' }, [`${USER_SCHEMA}:title`]: 'Dr' },
      expected: { schemas: [USER_SCHEMA], userName: 'a', displayName: 'A', title: 'Dr' },
    },
    {
      name: 'Entra "active": "False" and "True" become booleans',
      input: { userName: 'a', active: 'False', emails: [{ value: 'e', primary: 'True' }] },
      expected: { schemas: [USER_SCHEMA], userName: 'a', active: false, emails: [{ value: 'e', primary: true }] },
    },
    {
      name: 'single object wrapped into an array',
      input: { userName: 'a', emails: { value: 'e', type: 'work' } },
      expected: { schemas: [USER_SCHEMA], userName: 'a', emails: [{ value: 'e', type: 'work' }] },
    },
    {
      name: 'only the first primary stays primary',
      input: { userName: 'a', emails: [{ value: '1', primary: true }, { value: '2', primary: true }, { value: '3', primary: false }] },
      expected: { schemas: [USER_SCHEMA], userName: 'a', emails: [{ value: '1', primary: true }, { value: '2', primary: false }, { value: '3', primary: false }] },
    },
    {
      name: 'null, empty arrays and empty objects are unassigned',
      input: { userName: 'a', displayName: null, emails: [], name: {}, addresses: [{ locality: null }], [ENT]: {} },
      expected: { schemas: [USER_SCHEMA], userName: 'a' },
    },
    {
      name: 'Entra manager as a bare id',
      input: { userName: 'a', [`${ENT}:manager`]: 'boss-id' },
      expected: { schemas: [USER_SCHEMA, ENT], userName: 'a', [ENT]: { manager: { value: 'boss-id' } } },
    },
    {
      name: 'externalId kept; dotted top-level key sets a sub-attribute',
      input: { userName: 'a', externalId: 'ext-1', 'name.familyName': 'F', name: { givenName: 'G' } },
      expected: { schemas: [USER_SCHEMA], externalId: 'ext-1', userName: 'a', name: { familyName: 'F', givenName: 'G' } },
    },
  ];
  it.each(cases)('$name', ({ input, expected }) => {
    expect(normalizeResource(USER_RESOURCE, input, 'create')).toEqual(expected);
  });

  it('does not mutate its input', () => {
    const input = { userName: ' a ', active: 'True' };
    normalizeResource(USER_RESOURCE, input, 'replace');
    expect(input).toEqual({ userName: ' a ', active: 'True' });
  });

  const errors: { name: string; input: unknown; mode?: NormalizeMode; scimType: string; detail?: string }[] = [
    { name: 'not an object', input: [], scimType: 'invalidSyntax' },
    { name: 'null body', input: null, scimType: 'invalidSyntax' },
    { name: 'bad boolean', input: { userName: 'a', active: 'maybe' }, scimType: 'invalidValue', detail: 'active must be a boolean, got "maybe"' },
    { name: 'userName missing', input: { displayName: 'x' }, scimType: 'invalidValue', detail: 'userName is required' },
    { name: 'userName blank', input: { userName: '   ' }, mode: 'replace', scimType: 'invalidValue', detail: 'userName is required' },
    { name: 'userName missing after patch', input: { displayName: 'x' }, mode: 'patch-result', scimType: 'invalidValue' },
    { name: 'object for a string', input: { userName: { a: 1 } }, scimType: 'invalidValue' },
    { name: 'array for a single-valued attribute', input: { userName: 'a', title: ['x'] }, scimType: 'invalidValue' },
    { name: 'string for a complex attribute without value', input: { userName: 'a', name: 'A B' }, scimType: 'invalidValue' },
    { name: 'bad boolean in a sub-attribute', input: { userName: 'a', emails: [{ value: 'e', primary: 'yes' }] }, scimType: 'invalidValue' },
    { name: 'extension URN key not an object', input: { userName: 'a', [ENT]: 'x' }, scimType: 'invalidValue' },
  ];
  it.each(errors)('rejects: $name', ({ input, mode, scimType, detail }) => {
    const err = scimError(() => normalizeResource(USER_RESOURCE, input, mode ?? 'create'));
    expect(err.status).toBe(400);
    expect(err.scimType).toBe(scimType);
    if (detail) expect(err.detail).toBe(detail);
  });
});

describe('normalizeResource (Group) and extractMembers', () => {
  it('drops members from the stored Group and requires displayName', () => {
    const input = { DisplayName: 'Eng', externalId: 'e', members: [{ value: 'u1' }] };
    expect(normalizeResource(GROUP_RESOURCE, input, 'create')).toEqual({ schemas: [GROUP_SCHEMA], externalId: 'e', displayName: 'Eng' });
    expect(scimError(() => normalizeResource(GROUP_RESOURCE, { members: [] }, 'create')).detail).toBe('displayName is required');
  });

  const members: { name: string; input: unknown; expected: unknown }[] = [
    { name: 'no members', input: { displayName: 'g' }, expected: [] },
    { name: 'members null', input: { members: null }, expected: [] },
    {
      name: 'type in any case, missing = User, display and $ref ignored (Entra $ref: null)',
      input: { Members: [{ value: 'a', type: 'group' }, { value: 'b', display: 'B', $ref: null }, { Value: 'c', TYPE: 'USER', $ref: 'https://x/Users/c' }] },
      expected: [{ value: 'a', type: 'Group' }, { value: 'b', type: 'User' }, { value: 'c', type: 'User' }],
    },
    { name: 'bare string ids and duplicates', input: { members: ['a', { value: 'a' }, 'b'] }, expected: [{ value: 'a', type: 'User' }, { value: 'b', type: 'User' }] },
    { name: 'single object', input: { members: { value: 'a' } }, expected: [{ value: 'a', type: 'User' }] },
    { name: 'under the core Group URN', input: { [GROUP_SCHEMA]: { members: [{ value: 'a' }] } }, expected: [{ value: 'a', type: 'User' }] },
  ];
  it.each(members)('extractMembers: $name', ({ input, expected }) => {
    expect(extractMembers(input)).toEqual(expected);
  });

  it.each([
    { name: 'empty value', members: [{ value: '' }] },
    { name: 'missing value', members: [{ display: 'x' }] },
    { name: 'numeric value', members: [{ value: 7 }] },
    { name: 'unknown type', members: [{ value: 'a', type: 'Device' }] },
  ])('extractMembers rejects $name', ({ members: m }) => {
    const err = scimError(() => extractMembers({ members: m }));
    expect([err.status, err.scimType]).toEqual([400, 'invalidValue']);
  });
});

const META = {
  id: 'u-1',
  created: new Date('2024-01-02T03:04:05.000Z'),
  lastModified: '2024-02-02T00:00:00.000Z',
  location: 'https://h/scim/v2/o/Users/u-1',
  version: 'W/"3"',
};

describe('serializeResource', () => {
  it('produces the full User representation with active defaulting to true', () => {
    const stored = normalizeResource(USER_RESOURCE, { userName: 'a', externalId: 'x', [`${ENT}:department`]: 'D' }, 'create');
    const out = serializeResource(USER_RESOURCE, stored, META, { groups: [{ value: 'g1', display: 'G' }] });
    expect(out).toEqual({
      schemas: [USER_SCHEMA, ENT],
      id: 'u-1',
      externalId: 'x',
      meta: { resourceType: 'User', created: '2024-01-02T03:04:05.000Z', lastModified: '2024-02-02T00:00:00.000Z', location: META.location, version: 'W/"3"' },
      userName: 'a',
      active: true,
      groups: [{ value: 'g1', display: 'G' }],
      [ENT]: { department: 'D' },
    });
    expect(Object.keys(out).slice(0, 4)).toEqual(['schemas', 'id', 'externalId', 'meta']);
  });

  it('keeps active false, omits empty groups', () => {
    const out = serializeResource(USER_RESOURCE, { schemas: [USER_SCHEMA], userName: 'a', active: false }, META, { groups: [] });
    expect(out.active).toBe(false);
    expect(out).not.toHaveProperty('groups');
  });

  it('adds Group members and no active', () => {
    const out = serializeResource(GROUP_RESOURCE, { schemas: [GROUP_SCHEMA], displayName: 'g' }, { ...META, id: 'g-1' }, {
      members: [{ value: 'u-1', type: 'User' }],
    });
    expect(out).toMatchObject({ schemas: [GROUP_SCHEMA], id: 'g-1', displayName: 'g', members: [{ value: 'u-1', type: 'User' }] });
    expect((out.meta as Record<string, unknown>).resourceType).toBe('Group');
    expect(out).not.toHaveProperty('active');
  });
});

describe('projectAttributes', () => {
  const user = serializeResource(
    USER_RESOURCE,
    normalizeResource(
      USER_RESOURCE,
      {
        userName: 'a',
        name: { givenName: 'G', familyName: 'F' },
        emails: [{ value: 'e1', type: 'work', primary: true }, { value: 'e2', type: 'home' }],
        [ENT]: { department: 'D', costCenter: 'C' },
      },
      'create',
    ),
    META,
    { groups: [{ value: 'g1' }] },
  );
  const cases: { name: string; attributes?: string[]; excluded?: string[]; keys: string[]; check?: (r: Record<string, unknown>) => void }[] = [
    { name: 'no parameters: everything but never', keys: ['schemas', 'id', 'meta', 'userName', 'name', 'active', 'emails', 'groups', ENT] },
    { name: 'attributes=userName: plus always (id, schemas)', attributes: ['userName'], keys: ['schemas', 'id', 'userName'] },
    { name: 'case-insensitive, comma-separated', attributes: ['USERNAME,Active'], keys: ['schemas', 'id', 'userName', 'active'] },
    {
      name: 'dotted sub-attributes',
      attributes: ['name.givenName', 'emails.value'],
      keys: ['schemas', 'id', 'name', 'emails'],
      check: (r) => {
        expect(r.name).toEqual({ givenName: 'G' });
        expect(r.emails).toEqual([{ value: 'e1' }, { value: 'e2' }]);
      },
    },
    {
      name: 'URN-prefixed extension attribute',
      attributes: [`${ENT}:department`],
      keys: ['schemas', 'id', ENT],
      check: (r) => expect(r[ENT]).toEqual({ department: 'D' }),
    },
    { name: 'bare extension URN', attributes: [ENT.toLowerCase()], keys: ['schemas', 'id', ENT] },
    { name: 'meta sub-attribute', attributes: ['meta.lastModified'], keys: ['schemas', 'id', 'meta'], check: (r) => expect(r.meta).toEqual({ lastModified: META.lastModified }) },
    { name: 'unknown names ignored', attributes: ['nope', 'userName'], keys: ['schemas', 'id', 'userName'] },
    { name: 'password never, even when asked', attributes: ['password'], keys: ['schemas', 'id'] },
    { name: 'excluded', excluded: ['emails', 'Groups', 'name.familyName'], keys: ['schemas', 'id', 'meta', 'userName', 'name', 'active', ENT], check: (r) => expect(r.name).toEqual({ givenName: 'G' }) },
    { name: 'excluding always attributes has no effect', excluded: ['id', 'schemas'], keys: ['schemas', 'id', 'meta', 'userName', 'name', 'active', 'emails', 'groups', ENT] },
    { name: 'excluded extension attribute', excluded: [`${ENT}:costCenter`, 'meta'], keys: ['schemas', 'id', 'userName', 'name', 'active', 'emails', 'groups', ENT], check: (r) => expect(r[ENT]).toEqual({ department: 'D' }) },
    { name: 'excluded bare extension URN', excluded: [ENT], keys: ['schemas', 'id', 'meta', 'userName', 'name', 'active', 'emails', 'groups'] },
    { name: 'attributes wins over excludedAttributes', attributes: ['userName'], excluded: ['userName'], keys: ['schemas', 'id', 'userName'] },
  ];
  it.each(cases)('$name', ({ attributes, excluded, keys, check }) => {
    const out = projectAttributes(USER_RESOURCE, user, attributes, excluded);
    expect(Object.keys(out).sort()).toEqual([...keys].sort());
    check?.(out);
  });

  it('excludedAttributes=members for Groups (Entra and Okta list groups that way)', () => {
    const group = serializeResource(GROUP_RESOURCE, { schemas: [GROUP_SCHEMA], displayName: 'g' }, META, { members: [{ value: 'u' }] });
    expect(projectAttributes(GROUP_RESOURCE, group, undefined, ['members'])).not.toHaveProperty('members');
    expect(projectAttributes(GROUP_RESOURCE, group, ['members.value'])).toEqual({ schemas: [GROUP_SCHEMA], id: 'u-1', members: [{ value: 'u' }] });
  });
});
