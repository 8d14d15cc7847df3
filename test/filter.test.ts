import { describe, expect, it } from 'vitest';
import { evaluateFilter, type FilterNode, matchesValueFilter, parseFilter, parsePatchPath } from '../src/scim/filter.js';
import { formatPath } from '../src/scim/paths.js';
import { ENTERPRISE_USER_SCHEMA as ENT, GROUP_RESOURCE, USER_RESOURCE } from '../src/scim/schemas.js';
import { scimError } from './helpers/scimError.js';

/** A compact rendering of the AST, so that expectations read like filters. */
function show(n: FilterNode): string {
  switch (n.kind) {
    case 'compare': return `${formatPath(n.path)} ${n.op} ${JSON.stringify(n.value)}`;
    case 'present': return `${formatPath(n.path)} pr`;
    case 'and': case 'or': return `(${show(n.left)} ${n.kind} ${show(n.right)})`;
    case 'not': return `not(${show(n.filter)})`;
    case 'valuePath': return `${formatPath(n.path)}[${show(n.filter)}]`;
  }
}


describe('parseFilter', () => {
  const cases: [string, string][] = [
    ['userName eq "bjensen"', 'userName eq "bjensen"'],
    ['userName ne "bjensen"', 'userName ne "bjensen"'],
    ['userName co "jen"', 'userName co "jen"'],
    ['userName sw "J"', 'userName sw "J"'],
    ['userName ew "sen"', 'userName ew "sen"'],
    ['userName gt "a"', 'userName gt "a"'],
    ['userName ge "a"', 'userName ge "a"'],
    ['userName lt "a"', 'userName lt "a"'],
    ['userName le "a"', 'userName le "a"'],
    ['title pr', 'title pr'],
    ['emails pr', 'emails pr'],
    ['name pr', 'name pr'],
    // attribute names and operators are case-insensitive (RFC 7644 §3.4.2.2)
    ['USERNAME EQ "x"', 'userName eq "x"'],
    ['DisplayName eq "BobIsAmazing"', 'displayName eq "BobIsAmazing"'],
    ['title PR', 'title pr'],
    ['userName eq "a" OR userName eq "b"', '(userName eq "a" or userName eq "b")'],
    // precedence: not > and > or; left associative
    ['userName eq "a" or userName eq "b" and userName eq "c"', '(userName eq "a" or (userName eq "b" and userName eq "c"))'],
    ['userName eq "a" and userName eq "b" or userName eq "c"', '((userName eq "a" and userName eq "b") or userName eq "c")'],
    ['userName eq "a" or userName eq "b" or userName eq "c"', '((userName eq "a" or userName eq "b") or userName eq "c")'],
    ['(userName eq "a" or userName eq "b") and userName eq "c"', '((userName eq "a" or userName eq "b") and userName eq "c")'],
    ['not (userName eq "a") and active eq true', '(not(userName eq "a") and active eq true)'],
    ['not(userName eq "a" or title pr)', 'not((userName eq "a" or title pr))'],
    ['NOT (not (title pr))', 'not(not(title pr))'],
    ['((userName eq "a"))', 'userName eq "a"'],
    ['((userName eq "a") and ((title pr) or (nickName pr)))', '(userName eq "a" and (title pr or nickName pr))'],
    ['  userName   eq   "x"  ', 'userName eq "x"'],
    // value paths; inside the brackets names are sub-attributes of the parent
    ['emails[type eq "work" and value co "@example.com"]', 'emails[(emails.type eq "work" and emails.value co "@example.com")]'],
    ['emails[not (type eq "work")]', 'emails[not(emails.type eq "work")]'],
    ['Emails[Type EQ "work"] and userName sw "a"', '(emails[emails.type eq "work"] and userName sw "a")'],
    ['emails[primary eq true] or phoneNumbers[type eq "mobile"]', '(emails[emails.primary eq true] or phoneNumbers[phoneNumbers.type eq "mobile"])'],
    ['addresses[type eq "work" and postalCode sw "91"]', 'addresses[(addresses.type eq "work" and addresses.postalCode sw "91")]'],
    ['name[givenName eq "Barbara"]', 'name[name.givenName eq "Barbara"]'],
    // multi-valued sub-attributes ("any" semantics) and the implicit "value"
    ['emails.value co "@example.com"', 'emails.value co "@example.com"'],
    ['emails eq "a@example.com"', 'emails.value eq "a@example.com"'],
    ['groups eq "1234"', 'groups.value eq "1234"'],
    ['name.givenName eq "Barbara"', 'name.givenName eq "Barbara"'],
    ['meta.lastModified gt "2011-05-13T04:42:34Z"', 'meta.lastModified gt "2011-05-13T04:42:34Z"'],
    ['meta.resourceType eq "User"', 'meta.resourceType eq "User"'],
    // URN-prefixed names
    ['urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"', 'userName eq "x"'],
    ['urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "x"', 'name.familyName eq "x"'],
    [`${ENT}:department eq "Sales"`, `${ENT}:department eq "Sales"`],
    [`${ENT}:manager.value eq "26118915"`, `${ENT}:manager.value eq "26118915"`],
    [`${ENT.toUpperCase()}:EMPLOYEENUMBER eq "7"`, `${ENT}:employeeNumber eq "7"`],
    // string escapes (JSON)
    ['userName eq "a\\"b\\\\c\\u00e9\\n"', 'userName eq "a\\"b\\\\cé\\n"'],
    ['userName eq "a]b) or x"', 'userName eq "a]b) or x"'],
    ['userName eq ""', 'userName eq ""'],
    // unquoted values (Microsoft conformance collection)
    ['userName sw O', 'userName sw "O"'],
    ['meta.Created gt 2015-10-10T14:38:21.8617979-07:00', 'meta.created gt "2015-10-10T14:38:21.8617979-07:00"'],
    ['name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)',
      '(name.familyName eq "Employee" and (emails.value co "example.com" or emails.value co "example.org"))'],
    ['emails[type eq work]', 'emails[emails.type eq "work"]'],
    // numbers, booleans, null
    ['active eq true', 'active eq true'],
    ['active eq FALSE', 'active eq false'],
    ['active eq "True"', 'active eq true'],
    ['active ne false', 'active ne false'],
    ['emails[primary eq true]', 'emails[emails.primary eq true]'],
    ['externalId eq 123', 'externalId eq "123"'],
    ['externalId eq -1.5e3', 'externalId eq "-1.5e3"'],
    ['userName eq true', 'userName eq "true"'],
    ['displayName eq null', 'displayName eq null'],
    ['displayName ne null', 'displayName ne null'],
    // dateTime values are normalised to an explicit offset
    ['meta.created ge "2024-01-02"', 'meta.created ge "2024-01-02T00:00:00Z"'],
    ['meta.created lt "2024-01-02T03:04:05.5+0200"', 'meta.created lt "2024-01-02T03:04:05.5+02:00"'],
  ];
  it.each(cases)('%s', (text, expected) => {
    expect(show(parseFilter(text, USER_RESOURCE))).toBe(expected);
  });

  const groupCases: [string, string][] = [
    ['displayName eq "Admins"', 'displayName eq "Admins"'],
    ['members[value eq "2819c223"]', 'members[members.value eq "2819c223"]'],
    ['members.value eq "x" and members.type eq "User"', '(members.value eq "x" and members.type eq "User")'],
    ['members eq "x"', 'members.value eq "x"'],
    ['urn:ietf:params:scim:schemas:core:2.0:Group:displayName sw "A"', 'displayName sw "A"'],
  ];
  it.each(groupCases)('group: %s', (text, expected) => {
    expect(show(parseFilter(text, GROUP_RESOURCE))).toBe(expected);
  });

  it('keeps the resolved attribute definitions in the AST', () => {
    const n = parseFilter('emails[type eq "work"]', USER_RESOURCE);
    expect(n.kind).toBe('valuePath');
    if (n.kind !== 'valuePath' || n.filter.kind !== 'compare') throw new Error('shape');
    expect(n.path.attribute.name).toBe('emails');
    expect(n.path.sub).toBeUndefined();
    expect(n.filter.path.attribute.name).toBe('emails');
    expect(n.filter.path.sub?.name).toBe('type');
    const ext = parseFilter(`${ENT}:department eq "x"`, USER_RESOURCE);
    if (ext.kind !== 'compare') throw new Error('shape');
    expect(ext.path).toMatchObject({ schema: ENT, extension: true });
  });

  const errors: [string, RegExp][] = [
    ['', /expected an attribute path, 'not' or '\(', found end of input at position 0/],
    ['   ', /found end of input at position 3/],
    ['userName', /expected an operator .* after 'userName', found end of input at position 8/],
    ['userName eq', /expected a comparison value, found end of input at position 11/],
    ['userName eq "x" and', /'and' at position 16 is missing its right operand/],
    ['userName eq "x" or ', /'or' at position 16 is missing its right operand/],
    ['(userName eq "x" and)', /'and' at position 17 is missing its right operand: found '\)' at position 20/],
    ['and userName eq "x"', /'and' at position 0 is missing its left operand/],
    ['userName eq "x")', /unexpected '\)' at position 15/],
    ['(userName eq "x"', /expected '\)' to close '\(' at position 0, found end of input at position 16/],
    ['userName eq "x" userName eq "y"', /unexpected 'userName' at position 16/],
    ['foo eq "x"', /unknown attribute 'foo' at position 0/],
    ['title eq "x" and name.foo eq "x"', /unknown attribute 'name.foo' at position 17/],
    ['members eq "x"', /unknown attribute 'members'/],
    [`${ENT} eq "x"`, /unknown attribute/],
    ['urn:example:unknown:title eq "x"', /unknown attribute/],
    ['emails[foo eq "x"]', /unknown sub-attribute 'foo' of 'emails' at position 7/],
    ['emails[]', /expected an attribute path, 'not' or '\(', found '\]' at position 7/],
    ['emails[type eq "work"', /expected '\]' to close '\[' at position 6/],
    ['emails[type eq "work"].foo eq "x"', /unknown sub-attribute 'foo' of 'emails' at position 23/],
    ['emails[type eq "work"]. eq "x"', /expected a sub-attribute of 'emails' after '\]'/],
    ['emails[type eq "work"].value', /expected an operator .* after 'emails.value', found end of input/],
    ['emails[type eq "work"].primary co "t"', /needs a string attribute/],
    ['emails[type[value eq "x"]]', /value filters cannot be nested/],
    ['userName[value eq "x"]', /'userName' at position 0 is not a complex attribute/],
    ['name eq "x"', /'name' at position 5 is a complex attribute/],
    ['addresses eq "x"', /complex attribute/],
    ['userName xx "a"', /expected an operator .*found 'xx' at position 9/],
    ['userName "a"', /expected an operator/],
    ['not userName eq "x"', /expected '\(' after 'not' at position 0, found 'userName' at position 4/],
    ['active gt true', /operator 'gt' at position 7 cannot be applied to boolean attribute 'active'/],
    ['emails[primary le false]', /cannot be applied to boolean/],
    ['x509Certificates.value gt "a"', /cannot be applied to binary/],
    ['active co "t"', /operator 'co' at position 7 needs a string attribute, 'active' is of type boolean/],
    ['meta.created sw "2024"', /needs a string attribute/],
    ['active eq "maybe"', /'active' is of type boolean: expected true or false, got "maybe" at position 10/],
    ['active eq 1', /expected true or false/],
    ['meta.created gt "yesterday"', /'meta.created' is of type dateTime: expected an xsd:dateTime/],
    ['meta.created gt "2015-02-31T00:00:00Z"', /xsd:dateTime/],
    ['meta.created gt 5', /xsd:dateTime/],
    ['userName gt null', /null at position 12 can only be compared with eq or ne/],
    ['userName eq "abc', /unterminated string starting at position 12/],
    ['userName eq "a\\qb"', /invalid string "a\\qb" at position 12/],
    ['userName eq "tab\there"', /invalid string/],
    ['(((((((((((((((((((((((((((((((((((userName eq "x")))))))))))))))))))))))))))))))))', /nests deeper than 32 levels/],
  ];
  it.each(errors)('rejects %j', (text, detail) => {
    const err = scimError(() => parseFilter(text, USER_RESOURCE));
    expect(err.status).toBe(400);
    expect(err.scimType).toBe('invalidFilter');
    expect(err.detail).toMatch(detail);
  });
});

describe('parsePatchPath', () => {
  const showPatchPath = (p: ReturnType<typeof parsePatchPath>) => {
    if (p.extensionUrn) return `ext ${p.extensionUrn}`;
    let s = formatPath(p.path!);
    if (p.filter) s += `[${show(p.filter)}]`;
    if (p.subAttr) s += `.${p.subAttr.name}`;
    return s;
  };
  const cases: [string, 'User' | 'Group', string][] = [
    ['members', 'Group', 'members'],
    ['members[value eq "2819c223"]', 'Group', 'members[members.value eq "2819c223"]'],
    ['Members[Value EQ "a]b"]', 'Group', 'members[members.value eq "a]b"]'],
    ['displayName', 'Group', 'displayName'],
    ['emails[type eq "work"].value', 'User', 'emails[emails.type eq "work"].value'],
    ['emails[type eq "work" and primary eq true].display', 'User', 'emails[(emails.type eq "work" and emails.primary eq true)].display'],
    ['name.familyName', 'User', 'name.familyName'],
    ['NAME.FAMILYNAME', 'User', 'name.familyName'],
    ['emails', 'User', 'emails'],
    ['emails.value', 'User', 'emails.value'],
    ['active', 'User', 'active'],
    [`${ENT}:manager`, 'User', `${ENT}:manager`],
    [`${ENT}:manager.value`, 'User', `${ENT}:manager.value`],
    [`${ENT}:department`, 'User', `${ENT}:department`],
    [ENT, 'User', `ext ${ENT}`],
    [ENT.toLowerCase(), 'User', `ext ${ENT}`],
    ['urn:ietf:params:scim:schemas:core:2.0:User:userName', 'User', 'userName'],
    ['  title  ', 'User', 'title'],
  ];
  it.each(cases)('%s (%s)', (text, rt, expected) => {
    expect(showPatchPath(parsePatchPath(text, rt === 'User' ? USER_RESOURCE : GROUP_RESOURCE))).toBe(expected);
  });

  const errors: [string, 'invalidPath' | 'invalidFilter', RegExp][] = [
    ['', 'invalidPath', /empty/],
    ['foo', 'invalidPath', /unknown attribute path 'foo'/],
    ['name.foo', 'invalidPath', /unknown attribute path 'name.foo'/],
    ['members', 'invalidPath', /unknown attribute path 'members'/],
    ['urn:ietf:params:scim:schemas:core:2.0:User', 'invalidPath', /unknown attribute path/],
    ['foo[value eq "x"]', 'invalidPath', /unknown attribute 'foo'/],
    ['userName[value eq "x"]', 'invalidPath', /'userName' is not a complex attribute/],
    ['emails.value[value eq "x"]', 'invalidPath', /not a complex attribute/],
    ['emails[type eq "work"].foo', 'invalidPath', /unexpected '.foo' at position 22/],
    ['emails[type eq "work"]x', 'invalidPath', /unexpected 'x'/],
    ['emails[type eq "work"].value.x', 'invalidPath', /unexpected '.value.x'/],
    ['emails[type eq]', 'invalidFilter', /expected a comparison value, found '\]' at position 14/],
    ['emails[type eq "work"', 'invalidFilter', /expected '\]' to close '\[' at position 6/],
    ['emails[foo eq "x"]', 'invalidFilter', /unknown sub-attribute 'foo' of 'emails'/],
    ['emails[primary gt true]', 'invalidFilter', /cannot be applied to boolean/],
  ];
  it.each(errors)('rejects %j with %s', (text, scimType, detail) => {
    const err = scimError(() => parsePatchPath(text, USER_RESOURCE));
    expect(err.status).toBe(400);
    expect(err.scimType).toBe(scimType);
    expect(err.detail).toMatch(detail);
  });
});

describe('evaluateFilter', () => {
  const alice = {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENT],
    id: '2819c223-7f76-453a-919d-413861904646',
    userName: 'Alice@Example.com',
    externalId: 'EXT-1',
    active: true,
    displayName: 'Alice',
    title: '',
    name: { givenName: 'Alice', familyName: 'Liddell' },
    emails: [
      { value: 'alice@corp.com', type: 'work', primary: true },
      { value: 'alice@home.org', type: 'home' },
    ],
    phoneNumbers: [],
    [ENT]: { department: 'Sales', manager: { value: 'm-1' } },
    meta: { resourceType: 'User', created: '2024-01-02T03:04:05.123456Z', lastModified: '2024-06-01T12:00:00+02:00', version: 'W/"3"' },
    groups: [{ value: 'g-1', display: 'Admins', type: 'direct' }],
  };
  const cases: [string, boolean][] = [
    ['userName eq "alice@example.com"', true],
    ['userName eq "alice@example.co"', false],
    ['externalId eq "ext-1"', false], // caseExact
    ['externalId eq "EXT-1"', true],
    ['id eq "2819c223-7f76-453a-919d-413861904646"', true],
    ['userName co "@EXAMPLE"', true],
    ['userName sw "ALICE"', true],
    ['userName ew ".COM"', true],
    ['userName co "%"', false],
    ['userName gt "alice"', true],
    ['userName lt "alice"', false],
    ['userName ge "ALICE@EXAMPLE.COM"', true],
    ['userName ne "alice@example.com"', false],
    ['nickName ne "x"', true], // absent attribute: ne is true
    ['nickName eq null', true],
    ['displayName eq null', false],
    ['displayName ne null', true],
    ['title pr', false], // empty string is not present
    ['phoneNumbers pr', false], // empty array
    ['emails pr', true],
    ['name pr', true],
    ['nickName pr', false],
    ['active eq true', true],
    ['active eq false', false],
    ['active ne false', true],
    ['not (active eq true)', false],
    ['emails.value ew "@home.org"', true],
    ['emails.type eq "work" and emails.value ew "@home.org"', true], // different elements
    ['emails[type eq "work" and value ew "@home.org"]', false], // the same element
    ['emails[type eq "work" and value ew "@corp.com"]', true],
    ['emails[type eq "home" and primary eq true]', false],
    ['emails[not (type eq "work")]', true],
    ['emails.type ne "work"', false], // not (any element's type eq work)
    ['emails eq "ALICE@CORP.COM"', true],
    ['name.familyName eq "liddell"', true],
    ['name[givenName sw "al" and familyName pr]', true],
    [`${ENT}:department eq "sales"`, true],
    [`${ENT}:manager.value eq "m-1"`, true],
    [`${ENT}:employeeNumber pr`, false],
    ['groups.value eq "g-1"', true],
    ['groups.display eq "admins"', true],
    ['meta.created gt "2024-01-02T03:04:05.123455Z"', true],
    ['meta.created gt "2024-01-02T03:04:05.123456Z"', false],
    ['meta.created eq "2024-01-02T04:04:05.123456+01:00"', true],
    ['meta.lastModified eq "2024-06-01T10:00:00Z"', true],
    ['meta.lastModified lt 2024-06-01T10:00:01Z', true],
    ['meta.version eq "W/\\"3\\""', true],
    ['meta.resourceType eq "user"', false], // caseExact
    ['userName eq "x" or (active eq true and emails[primary eq true])', true],
    // Entra's work-email lookup: attr[f].sub op v reads as attr[f and sub op v].
    ['emails[type eq "work"].value eq "ALICE@corp.com"', true],
    ['emails[type eq "work"].value eq "alice@home.org"', false], // that address is not the work one
    ['emails[type eq "home"].value ew "@home.org"', true],
    ['emails[type eq "work"].primary eq "True"', true],
    ['emails[type eq "home"].primary pr', false],
    ['name[givenName eq "Alice"].familyName eq "liddell"', true],
    ['not (emails[type eq "work"].value eq "alice@corp.com")', false],
  ];
  it.each(cases)('%s → %s', (text, expected) => {
    expect(evaluateFilter(parseFilter(text, USER_RESOURCE), alice)).toBe(expected);
  });

  it('matches value filters against one element (PATCH emails[type eq "work"])', () => {
    const { filter } = parsePatchPath('emails[type eq "work" or primary eq true]', USER_RESOURCE);
    const elements = [
      { value: 'a@x', type: 'work' },
      { value: 'b@x', type: 'home', primary: true },
      { value: 'c@x', type: 'home' },
      { value: 'd@x', type: 'WORK' },
      {},
    ];
    expect(elements.map((e) => matchesValueFilter(filter!, e))).toEqual([true, true, false, true, false]);
    const members = parsePatchPath('members[value eq "2819c223"]', GROUP_RESOURCE).filter!;
    expect(matchesValueFilter(members, { value: '2819c223', type: 'User' })).toBe(true);
    expect(matchesValueFilter(members, { value: '2819C223' })).toBe(true); // members.value is not caseExact
    expect(matchesValueFilter(members, 'not an object')).toBe(false);
    expect(matchesValueFilter(parseFilter('emails[type eq "home"]', USER_RESOURCE), { type: 'home' })).toBe(true);
  });
});
