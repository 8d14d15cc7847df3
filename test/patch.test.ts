import { describe, expect, it } from 'vitest';
import { type MemberChanges, applyPatch } from '../src/scim/patch.js';
import { normalizeResource } from '../src/scim/resource.js';
import {
  ENTERPRISE_USER_SCHEMA as ENT,
  GROUP_RESOURCE,
  PATCH_OP_SCHEMA,
  USER_RESOURCE,
} from '../src/scim/schemas.js';
import { scimError } from './helpers/scimError.js';

type Json = Record<string, unknown>;
const MANAGER = '26118915-6090-4610-87e4-49d8ca9f808d';

const USER_INPUT: Json = {
  userName: 'bjensen@example.com',
  active: true,
  displayName: 'Babs',
  name: { givenName: 'Barbara', familyName: 'Jensen' },
  emails: [
    { value: 'bjensen@example.com', type: 'work', primary: true },
    { value: 'babs@home.org', type: 'home' },
  ],
  [ENT]: { department: 'Eng' },
};
const USER = normalizeResource(USER_RESOURCE, USER_INPUT, 'create');
/** The base user with some attributes overridden (null = removed), normalised. */
const user = (overrides: Json) => normalizeResource(USER_RESOURCE, { ...USER_INPUT, ...overrides }, 'create');
const GROUP = normalizeResource(GROUP_RESOURCE, { displayName: 'Engineering', externalId: 'okta-g1' }, 'create');

const body = (...Operations: unknown[]) => ({ schemas: [PATCH_OP_SCHEMA], Operations });
const WITH_MANAGER = user({ [ENT]: { department: 'Eng', manager: { value: MANAGER } } });
const WORK = { value: 'bjensen@example.com', type: 'work', primary: true };
const HOME = { value: 'babs@home.org', type: 'home' };


interface UserCase {
  name: string;
  resource?: Json;
  body: unknown;
  expected: Json;
  changed?: boolean;
}

const userCases: UserCase[] = [
  // --- recorded IdP requests ---
  {
    name: 'Entra: Replace active "False" (string) ends as boolean false',
    body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] },
    expected: user({ active: false }),
  },
  {
    name: 'Entra: multi-op user update (givenName, work email, manager as a bare id)',
    body: body(
      { op: 'Add', path: 'name.givenName', value: 'x' },
      { op: 'Replace', path: 'emails[type eq "work"].value', value: 'y@z' },
      { op: 'Add', path: `${ENT}:manager`, value: MANAGER },
    ),
    expected: user({
      name: { givenName: 'x', familyName: 'Jensen' },
      emails: [{ ...WORK, value: 'y@z' }, HOME],
      [ENT]: { department: 'Eng', manager: { value: MANAGER } },
    }),
  },
  {
    name: 'Entra: Add phoneNumbers[type eq "mobile"].value on a user without one creates it',
    body: body({ op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555' }),
    expected: user({ phoneNumbers: [{ type: 'mobile', value: '+1 555' }] }),
  },
  // Entra path forms outside RFC 7644 (Microsoft: "Tutorial: Develop and plan provisioning for a
  // SCIM endpoint", "Known issues … SCIM 2.0 protocol compliance"); docs/scim.md "PATCH".
  {
    name: 'Entra: Replace active "False" with Remove manager[value eq id] in one PATCH (issue 7)',
    resource: WITH_MANAGER,
    body: body({ op: 'Replace', path: 'active', value: 'False' }, { op: 'Remove', path: `${ENT}:manager[value eq "${MANAGER}"]` }),
    expected: user({ active: false }),
  },
  {
    name: 'Entra: Remove manager[value eq id] leaves a different manager alone',
    resource: WITH_MANAGER,
    body: body({ op: 'Replace', path: 'active', value: 'False' }, { op: 'Remove', path: `${ENT}:manager[value eq "someone-else"]` }),
    expected: user({ active: false, [ENT]: { department: 'Eng', manager: { value: MANAGER } } }),
  },
  {
    name: 'Entra: Remove manager[value eq id] on a user without a manager changes nothing',
    body: body({ op: 'Remove', path: `${ENT}:manager[value eq "${MANAGER}"]` }),
    expected: USER,
    changed: false,
  },
  {
    name: 'Entra: Remove manager[value eq id].value clears the manager',
    resource: WITH_MANAGER,
    body: body({ op: 'Remove', path: `${ENT}:manager[value eq "${MANAGER}"].value` }),
    expected: USER,
  },
  {
    name: 'Entra: Remove manager with the id as a bare-string value clears it when it matches',
    resource: WITH_MANAGER,
    body: body({ op: 'Remove', path: `${ENT}:manager`, value: MANAGER }),
    expected: USER,
  },
  {
    name: 'Entra: Remove manager with a different id as value leaves it alone',
    resource: WITH_MANAGER,
    body: body({ op: 'Remove', path: `${ENT}:manager`, value: { value: 'someone-else' } }),
    expected: WITH_MANAGER,
    changed: false,
  },
  {
    name: 'Entra: Remove manager with a value list as for members ([{value}]) clears it when one matches',
    resource: WITH_MANAGER,
    body: body({ op: 'Remove', path: `${ENT}:manager`, value: [{ value: 'someone-else' }, { $ref: null, value: MANAGER }] }),
    expected: USER,
  },
  {
    name: 'Entra: Remove manager with a value list that does not name it leaves it alone',
    resource: WITH_MANAGER,
    body: body({ op: 'Remove', path: `${ENT}:manager`, value: [{ value: 'someone-else' }] }),
    expected: WITH_MANAGER,
    changed: false,
  },
  {
    name: 'Remove manager with a value that cannot name one (true) leaves it alone, beside a deactivation',
    resource: WITH_MANAGER,
    body: body({ op: 'Replace', path: 'active', value: 'False' }, { op: 'Remove', path: `${ENT}:manager`, value: true }),
    expected: user({ active: false, [ENT]: { department: 'Eng', manager: { value: MANAGER } } }),
  },
  {
    name: 'Entra: Replace manager[value eq id].value on a user without a manager sets it',
    body: body({ op: 'Replace', path: `${ENT}:manager[value eq "${MANAGER}"].value`, value: MANAGER }),
    expected: WITH_MANAGER,
  },
  {
    name: 'Entra: Remove name[givenName eq "Barbara"].familyName (value filter on single-valued name)',
    body: body({ op: 'Remove', path: 'name[givenName eq "Barbara"].familyName' }),
    expected: user({ name: { givenName: 'Barbara' } }),
  },
  {
    name: 'Entra (aadOptscim062020): one pathless Replace whose keys are value paths, dotted and URN-prefixed',
    body: body({
      op: 'replace',
      value: {
        displayName: 'Pvlo',
        'emails[type eq "work"].value': 'TestBcwqnm@test.microsoft.com',
        'name.givenName': 'Gtfd',
        'name.familyName': 'Pkqf',
        externalId: 'Eqpj',
        [`${ENT}:employeeNumber`]: 'Eqpj',
        'phoneNumbers[type eq "mobile"].value': '+1 555',
        'nosuch[type eq "x"].value': 'dropped like any unknown key',
      },
    }),
    expected: user({
      displayName: 'Pvlo',
      emails: [{ ...WORK, value: 'TestBcwqnm@test.microsoft.com' }, HOME],
      name: { givenName: 'Gtfd', familyName: 'Pkqf' },
      externalId: 'Eqpj',
      phoneNumbers: [{ type: 'mobile', value: '+1 555' }],
      [ENT]: { department: 'Eng', employeeNumber: 'Eqpj' },
    }),
  },
  {
    name: 'Entra: Replace emails[type eq "work"].value when the stored email has no type adds the work email',
    resource: user({ emails: [{ value: 'old@x' }] }),
    body: body({ op: 'Replace', path: 'emails[type eq "work"].value', value: 'new@x' }),
    expected: user({ emails: [{ value: 'old@x' }, { type: 'work', value: 'new@x' }] }),
  },
  {
    name: 'Entra: Add addresses[type eq "work"].formatted, then Replace its streetAddress',
    body: body(
      { op: 'Add', path: 'addresses[type eq "work"].formatted', value: '1 Main St, Springfield' },
      { op: 'Replace', path: 'addresses[type eq "work"].streetAddress', value: '1 Main St' },
    ),
    expected: user({ addresses: [{ type: 'work', formatted: '1 Main St, Springfield', streetAddress: '1 Main St' }] }),
  },
  {
    name: 'Entra: Add roles[primary eq "True"].value (a string boolean inside the filter)',
    body: body({ op: 'Add', path: 'roles[primary eq "True"].value', value: 'Admin' }),
    expected: user({ roles: [{ value: 'Admin', primary: true }] }),
  },
  {
    name: 'Entra: Remove emails[type eq "other"] when there is none changes nothing',
    body: body({ op: 'Remove', path: 'emails[type eq "other"]' }),
    expected: USER,
    changed: false,
  },
  {
    name: 'Entra: Add of an email that is already there changes nothing',
    body: body({ op: 'Add', path: 'emails', value: [{ value: 'bjensen@example.com', type: 'work', primary: true }] }),
    expected: USER,
    changed: false,
  },
  {
    name: 'Entra (customappsso): extension attribute with a dot before its name',
    body: body({ op: 'Replace', path: `${ENT}.department`, value: 'Sales' }),
    expected: user({ [ENT]: { department: 'Sales' } }),
  },
  {
    name: 'Replace emails[type eq "other"] with an object creates the element the filter describes',
    body: body({ op: 'replace', path: 'emails[type eq "other"]', value: { value: 'o@x' } }),
    expected: user({ emails: [WORK, HOME, { value: 'o@x', type: 'other' }] }),
  },
  {
    name: 'Microsoft collection: replace userName',
    body: body({ op: 'replace', path: 'userName', value: 'ryan3' }),
    expected: user({ userName: 'ryan3' }),
  },
  { name: 'Okta: deactivate without a path', body: body({ op: 'replace', value: { active: false } }), expected: user({ active: false }) },
  // --- add (RFC 7644 §3.5.2.1) ---
  {
    name: 'add to a multi-valued attribute appends',
    body: body({ op: 'add', path: 'emails', value: [{ value: 'o@x', type: 'other' }] }),
    expected: user({ emails: [WORK, HOME, { value: 'o@x', type: 'other' }] }),
  },
  {
    name: 'add of a single object to a multi-valued attribute (lenient) appends',
    body: body({ op: 'add', path: 'Emails', value: { Value: 'o@x' } }),
    expected: user({ emails: [WORK, HOME, { value: 'o@x' }] }),
  },
  { name: 'add of an exact duplicate is a no-op', body: body({ op: 'add', path: 'emails', value: [HOME] }), expected: USER, changed: false },
  {
    name: 'add of a primary value demotes the old primary (§3.5.2)',
    body: body({ op: 'add', path: 'emails', value: [{ value: 'p@x', primary: true }] }),
    expected: user({ emails: [{ ...WORK, primary: false }, HOME, { value: 'p@x', primary: true }] }),
  },
  { name: 'add to a single-valued attribute sets it', body: body({ op: 'add', path: 'title', value: 'Dr' }), expected: user({ title: 'Dr' }) },
  {
    name: 'add of a complex attribute merges sub-attributes',
    body: body({ op: 'add', path: 'name', value: { middleName: 'M' } }),
    expected: user({ name: { givenName: 'Barbara', familyName: 'Jensen', middleName: 'M' } }),
  },
  {
    name: 'add with a filter and no sub-attribute merges into the matches',
    body: body({ op: 'add', path: 'emails[type eq "home"]', value: { display: 'Home' } }),
    expected: user({ emails: [WORK, { ...HOME, display: 'Home' }] }),
  },
  {
    name: 'add of an extension attribute creates the extension object',
    resource: user({ [ENT]: null }),
    body: body({ op: 'add', path: `${ENT.toLowerCase()}:EmployeeNumber`, value: 1234 }),
    expected: user({ [ENT]: { employeeNumber: '1234' } }),
  },
  {
    name: 'add of the manager as an object, readOnly displayName dropped',
    body: body({ op: 'add', path: `${ENT}:manager`, value: { value: MANAGER, displayName: 'Boss' } }),
    expected: user({ [ENT]: { department: 'Eng', manager: { value: MANAGER } } }),
  },
  { name: 'add of a password is accepted and never stored', body: body({ op: 'add', path: 'password', value: 's3cret' }), expected: USER, changed: false },
  // --- replace (§3.5.2.3) ---
  {
    name: 'replace a multi-valued attribute without a filter replaces all values',
    body: body({ op: 'replace', path: 'emails', value: [{ value: 'n@x', type: 'work' }] }),
    expected: user({ emails: [{ value: 'n@x', type: 'work' }] }),
  },
  {
    name: 'replace a complex attribute leaves unspecified sub-attributes unchanged',
    body: body({ op: 'replace', path: 'name', value: { familyName: 'Doe' } }),
    expected: user({ name: { givenName: 'Barbara', familyName: 'Doe' } }),
  },
  {
    name: 'replace with a filter and no sub-attribute replaces the matches',
    body: body({ op: 'replace', path: 'emails[type eq "home"]', value: { value: 'h2@x', type: 'home' } }),
    expected: user({ emails: [WORK, { value: 'h2@x', type: 'home' }] }),
  },
  {
    name: 'replace primary through a filter demotes the other primary',
    body: body({ op: 'replace', path: 'emails[value eq "babs@home.org"].primary', value: 'True' }),
    expected: user({ emails: [{ ...WORK, primary: false }, { ...HOME, primary: true }] }),
  },
  {
    name: 'pathless keys may be dotted, URN-prefixed, in any case; id ignored',
    body: body({ op: 'Replace', value: { id: 'ignored', 'NAME.familyName': 'J', [`${ENT}:Department`]: 'Ops', nosuch: 1 } }),
    expected: user({ name: { givenName: 'Barbara', familyName: 'J' }, [ENT]: { department: 'Ops' } }),
  },
  {
    name: 'pathless value under the extension URN key',
    body: body({ op: 'replace', value: { [ENT]: { costCenter: 'C1' } } }),
    expected: user({ [ENT]: { department: 'Eng', costCenter: 'C1' } }),
  },
  {
    name: 'replace of the bare extension URN merges its attributes',
    body: body({ op: 'replace', path: ENT, value: { division: 'D' } }),
    expected: user({ [ENT]: { department: 'Eng', division: 'D' } }),
  },
  { name: 'replace with null unassigns', body: body({ op: 'replace', path: 'displayName', value: null }), expected: user({ displayName: null }) },
  { name: 'replace with the same value is a no-op', body: body({ op: 'replace', path: 'active', value: 'true' }), expected: USER, changed: false },
  { name: 'replace externalId', body: body({ op: 'replace', path: 'externalId', value: 'e-9' }), expected: user({ externalId: 'e-9' }) },
  {
    name: 'lenient envelope: no schemas, "operations", op in capitals',
    body: { operations: [{ OP: 'REPLACE', Path: 'displayName', Value: 'B' }] },
    expected: user({ displayName: 'B' }),
  },
  // --- remove (§3.5.2.2) ---
  { name: 'remove a filtered element', body: body({ op: 'remove', path: 'emails[type eq "home"]' }), expected: user({ emails: [WORK] }) },
  {
    name: 'remove a sub-attribute of filtered elements',
    body: body({ op: 'remove', path: 'emails[type eq "work"].primary' }),
    expected: user({ emails: [{ value: WORK.value, type: 'work' }, HOME] }),
  },
  { name: 'remove the last element unassigns the attribute', resource: user({ emails: [HOME] }), body: body({ op: 'remove', path: 'emails[type eq "home"]' }), expected: user({ emails: null }) },
  { name: 'remove a sub-attribute', body: body({ op: 'remove', path: 'name.givenName' }), expected: user({ name: { familyName: 'Jensen' } }) },
  { name: 'remove a single-valued attribute', body: body({ op: 'remove', path: 'displayName' }), expected: user({ displayName: null }) },
  { name: 'remove an absent attribute is a no-op', body: body({ op: 'remove', path: 'title' }), expected: USER, changed: false },
  { name: 'remove listed values of a multi-valued attribute', body: body({ op: 'remove', path: 'emails', value: [{ value: 'babs@home.org' }] }), expected: user({ emails: [WORK] }) },
  { name: 'remove the last extension attribute drops the extension', body: body({ op: 'remove', path: `${ENT}:department` }), expected: user({ [ENT]: null }) },
  { name: 'remove the bare extension URN', body: body({ op: 'remove', path: ENT }), expected: user({ [ENT]: null }) },
  {
    name: 'operations apply in order',
    body: body({ op: 'add', path: 'title', value: 'A' }, { op: 'remove', path: 'title' }, { op: 'add', path: 'nickName', value: 'N' }),
    expected: user({ nickName: 'N' }),
  },
];

describe('applyPatch (User)', () => {
  it.each(userCases)('$name', ({ resource, body: b, expected, changed }) => {
    const before = structuredClone(resource ?? USER);
    const result = applyPatch(USER_RESOURCE, before, b);
    expect(result.resource).toEqual(expected);
    expect(result.changed).toBe(changed ?? true);
    expect(result.members).toBeUndefined();
    expect(before).toEqual(resource ?? USER); // input not mutated
  });
});

interface ErrorCase {
  name: string;
  group?: boolean;
  body: unknown;
  status?: number;
  scimType: string;
  detail?: RegExp;
}

const errorCases: ErrorCase[] = [
  { name: 'body not an object', body: [], scimType: 'invalidSyntax' },
  { name: 'wrong schemas', body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], Operations: [{ op: 'add', path: 'title', value: 'x' }] }, scimType: 'invalidSyntax' },
  { name: 'missing Operations', body: { schemas: [PATCH_OP_SCHEMA] }, scimType: 'invalidSyntax' },
  { name: 'empty Operations', body: body(), scimType: 'invalidSyntax' },
  { name: 'Operations not an array', body: { schemas: [PATCH_OP_SCHEMA], Operations: { op: 'add' } }, scimType: 'invalidSyntax' },
  { name: 'bad op', body: body({ op: 'move', path: 'title', value: 'x' }), scimType: 'invalidSyntax', detail: /"move"/ },
  { name: 'missing op', body: body({ path: 'title', value: 'x' }), scimType: 'invalidSyntax' },
  { name: 'operation not an object', body: body('add'), scimType: 'invalidSyntax' },
  { name: 'unknown path', body: body({ op: 'replace', path: 'nosuch', value: 'x' }), scimType: 'invalidPath' },
  { name: 'path not a string', body: body({ op: 'replace', path: 7, value: 'x' }), scimType: 'invalidPath' },
  { name: 'malformed filter', body: body({ op: 'replace', path: 'emails[type eq].value', value: 'x' }), scimType: 'invalidFilter' },
  { name: 'replace: non-eq filter matches nothing', body: body({ op: 'Replace', path: 'emails[type sw "oth"].value', value: 'x' }), scimType: 'noTarget' },
  { name: 'replace: or filter matches nothing', body: body({ op: 'replace', path: 'emails[type eq "a" or type eq "b"]', value: { value: 'x' } }), scimType: 'noTarget' },
  { name: 'add: non-eq filter matches nothing', body: body({ op: 'add', path: 'emails[type sw "x"].value', value: 'x' }), scimType: 'noTarget' },
  { name: 'add: eq filter without sub-attribute and a non-object value', body: body({ op: 'add', path: 'emails[type eq "other"]', value: 'x' }), scimType: 'invalidValue' },
  { name: 'single-valued: replace through a filter the current value does not match', body: body({ op: 'replace', path: 'name[givenName eq "x"].familyName', value: 'y' }), scimType: 'noTarget' },
  { name: 'single-valued: add through a filter the current value does not match', body: body({ op: 'Add', path: 'name[familyName eq "Smith"].givenName', value: 'y' }), scimType: 'noTarget' },
  { name: 'remove without a path', body: body({ op: 'remove', value: { title: 'x' } }), scimType: 'noTarget' },
  { name: 'remove userName (required)', body: body({ op: 'remove', path: 'userName' }), scimType: 'mutability' },
  { name: 'replace id', body: body({ op: 'replace', path: 'id', value: 'x' }), scimType: 'mutability' },
  { name: 'replace meta.lastModified', body: body({ op: 'replace', path: 'meta.lastModified', value: '2024-01-01T00:00:00Z' }), scimType: 'mutability' },
  { name: 'add groups', body: body({ op: 'add', path: 'groups', value: [{ value: 'g' }] }), scimType: 'mutability' },
  { name: 'pathless meta', body: body({ op: 'replace', value: { meta: { version: 'x' } } }), scimType: 'mutability' },
  { name: 'replace manager.displayName (readOnly)', body: body({ op: 'replace', path: `${ENT}:manager.displayName`, value: 'x' }), scimType: 'mutability' },
  { name: 'bad boolean', body: body({ op: 'replace', path: 'active', value: 'maybe' }), scimType: 'invalidValue', detail: /active must be a boolean, got "maybe"/ },
  { name: 'bad boolean without a path', body: body({ op: 'replace', value: { active: 'nope' } }), scimType: 'invalidValue' },
  { name: 'empty userName', body: body({ op: 'replace', path: 'userName', value: '  ' }), scimType: 'invalidValue' },
  { name: 'add without a value', body: body({ op: 'add', path: 'title' }), scimType: 'invalidValue' },
  { name: 'pathless value not an object', body: body({ op: 'replace', value: 'x' }), scimType: 'invalidValue' },
  { name: 'a later operation fails: nothing applies', body: body({ op: 'replace', path: 'title', value: 'ok' }, { op: 'remove', path: 'userName' }), scimType: 'mutability', detail: /^Operations\[1\]/ },
  // Groups
  { name: 'Group: remove displayName (required)', group: true, body: body({ op: 'remove', path: 'displayName' }), scimType: 'mutability' },
  { name: 'Group: members filter other than value eq', group: true, body: body({ op: 'remove', path: 'members[type eq "User"]' }), scimType: 'invalidFilter' },
  { name: 'Group: replace through a members filter', group: true, body: body({ op: 'replace', path: 'members[value eq "a"]', value: { value: 'b' } }), scimType: 'mutability' },
  { name: 'Group: member sub-attribute', group: true, body: body({ op: 'replace', path: 'members.display', value: 'x' }), scimType: 'mutability' },
  { name: 'Group: empty member value', group: true, body: body({ op: 'add', path: 'members', value: [{ value: '' }] }), scimType: 'invalidValue' },
];

describe('applyPatch errors', () => {
  it.each(errorCases)('$name → 400 $scimType', ({ group, body: b, status, scimType, detail }) => {
    const resource = structuredClone(group ? GROUP : USER);
    const err = scimError(() => applyPatch(group ? GROUP_RESOURCE : USER_RESOURCE, resource, b));
    expect({ status: err.status, scimType: err.scimType }).toEqual({ status: status ?? 400, scimType });
    if (detail) expect(err.detail).toMatch(detail);
    expect(resource).toEqual(group ? GROUP : USER);
  });
});

interface GroupCase {
  name: string;
  body: unknown;
  members?: MemberChanges;
  expected?: Json;
  changed?: boolean;
}

const u = (value: string) => ({ value, type: 'User' as const });

const groupCases: GroupCase[] = [
  {
    name: 'Entra: Add members [{value}]',
    body: body({ op: 'Add', path: 'members', value: [{ value: MANAGER }] }),
    members: { add: [u(MANAGER)], remove: [] },
  },
  {
    name: 'Entra: Remove members with a value list',
    body: body({ op: 'Remove', path: 'members', value: [{ value: MANAGER }] }),
    members: { add: [], remove: [MANAGER] },
  },
  {
    name: 'Microsoft collection: add a bare string id (plus display, Group type in lower case)',
    body: body({ op: 'add', path: 'members', value: 'string id 1' }, { op: 'add', path: 'members', value: [{ value: 'g2', type: 'group', displayName: 'x', $ref: null }] }),
    members: { add: [u('string id 1'), { value: 'g2', type: 'Group' }], remove: [] },
  },
  {
    name: 'Okta: remove members[value eq] and add in one PATCH',
    body: body(
      { op: 'remove', path: 'members[value eq "00u1"]' },
      { op: 'add', path: 'members', value: [{ value: '00u2', display: 'u2@example.com' }] },
    ),
    members: { add: [u('00u2')], remove: ['00u1'] },
  },
  {
    name: 'Okta: full replace of members',
    body: body({ op: 'replace', path: 'members', value: [{ value: 'a', display: 'A' }, { value: 'b' }] }),
    members: { replaceAll: [u('a'), u('b')], add: [], remove: [] },
  },
  {
    name: 'Okta: rename with the id in the value',
    body: body({ op: 'replace', value: { id: 'g-1', displayName: 'Platform' } }),
    expected: { ...GROUP, displayName: 'Platform' },
  },
  {
    name: 'pathless replace of members and displayName',
    body: body({ op: 'replace', value: { members: [{ value: 'a' }], displayName: 'X' } }),
    members: { replaceAll: [u('a')], add: [], remove: [] },
    expected: { ...GROUP, displayName: 'X' },
  },
  { name: 'remove members without a value removes all', body: body({ op: 'remove', path: 'members' }), members: { removeAll: true, add: [], remove: [] } },
  { name: 'remove by an or filter', body: body({ op: 'remove', path: 'members[value eq "a" or value eq "b"]' }), members: { add: [], remove: ['a', 'b'] } },
  {
    name: 'added then removed in one PATCH ends removed',
    body: body({ op: 'add', path: 'members', value: [{ value: 'a' }] }, { op: 'remove', path: 'members[value eq "a"]' }),
    members: { add: [], remove: ['a'] },
  },
  {
    name: 'removed then added in one PATCH ends added',
    body: body({ op: 'remove', path: 'members[value eq "a"]' }, { op: 'add', path: 'members', value: [{ value: 'a' }] }),
    members: { add: [u('a')], remove: [] },
  },
  {
    name: 'remove all, then add',
    body: body({ op: 'remove', path: 'members' }, { op: 'add', path: 'members', value: [{ value: 'b' }] }),
    members: { removeAll: true, add: [u('b')], remove: [] },
  },
  {
    name: 'replace, then add and remove fold into the replacement',
    body: body(
      { op: 'replace', path: 'members', value: [{ value: 'a' }] },
      { op: 'add', path: 'members', value: [{ value: 'b' }, { value: 'a' }] },
      { op: 'remove', path: 'members[value eq "a"]' },
    ),
    members: { replaceAll: [u('b')], add: [], remove: [] },
  },
  { name: 'replace members with an empty list', body: body({ op: 'replace', path: 'members', value: [] }), members: { replaceAll: [], add: [], remove: [] } },
  { name: 'Entra: Replace displayName', body: body({ op: 'Replace', path: 'displayName', value: 'Eng 2' }), expected: { ...GROUP, displayName: 'Eng 2' } },
  { name: 'no-op rename', body: body({ op: 'replace', path: 'displayName', value: 'Engineering' }), expected: GROUP, changed: false },
];

describe('applyPatch (Group)', () => {
  it.each(groupCases)('$name', ({ body: b, members, expected, changed }) => {
    const result = applyPatch(GROUP_RESOURCE, structuredClone(GROUP), b);
    expect(result.members).toEqual(members);
    expect(result.resource).toEqual(expected ?? GROUP);
    expect(result.resource).not.toHaveProperty('members');
    expect(result.changed).toBe(changed ?? true);
  });
});
