// Attribute definitions for the resources scimsync serves: RFC 7643 §4.1 (User), §4.3
// (enterprise extension), §4.2 (Group) and §3.1 (common attributes). They drive attribute
// name resolution (case-insensitive, URN-prefixed), filtering, PATCH, projection and /Schemas.

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const SEARCH_REQUEST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
export const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
export const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
export const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

export type AttributeType = 'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'complex' | 'binary';

export interface AttributeDef {
  name: string;
  type: AttributeType;
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned: 'always' | 'never' | 'default' | 'request';
  uniqueness: 'none' | 'server' | 'global';
  canonicalValues?: string[];
  referenceTypes?: string[];
  subAttributes?: AttributeDef[];
}

export interface SchemaDef {
  id: string;
  name: string;
  description: string;
  attributes: AttributeDef[];
}

type Opts = Partial<Omit<AttributeDef, 'name' | 'type' | 'description'>>;

function attr(name: string, type: AttributeType, description: string, opts: Opts = {}): AttributeDef {
  return {
    name,
    type,
    multiValued: false,
    description,
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...opts,
  };
}

const str = (name: string, description: string, opts: Opts = {}) => attr(name, 'string', description, opts);
const complex = (name: string, description: string, subAttributes: AttributeDef[], opts: Opts = {}) =>
  attr(name, 'complex', description, { ...opts, subAttributes });

/** The value/display/type/primary shape shared by emails, phoneNumbers, ims, photos, … */
function multiValued(name: string, description: string, types: string[], valueType: AttributeType = 'string'): AttributeDef {
  return complex(
    name,
    description,
    [
      attr('value', valueType, `The ${name} value.`),
      str('display', 'A human-readable name, primarily used for display purposes.'),
      str('type', `A label indicating the attribute's function.`, { canonicalValues: types }),
      attr('primary', 'boolean', 'Indicates the primary or preferred value.'),
    ],
    { multiValued: true },
  );
}

const memberRef = (name: string, description: string, referenceTypes: string[], opts: Opts = {}) =>
  complex(
    name,
    description,
    [
      str('value', 'The identifier of the member.', { mutability: opts.mutability ?? 'immutable' }),
      attr('$ref', 'reference', 'The URI of the member resource.', { referenceTypes, mutability: opts.mutability ?? 'immutable' }),
      str('display', 'A human-readable name, primarily used for display purposes.', { mutability: opts.mutability ?? 'readOnly' }),
      str('type', 'A label indicating the type of resource.', { canonicalValues: ['User', 'Group'], mutability: opts.mutability ?? 'immutable' }),
    ],
    { multiValued: true, ...opts },
  );

export const COMMON_ATTRIBUTES: AttributeDef[] = [
  str('id', 'Unique identifier for the resource, assigned by the service provider.', {
    caseExact: true, mutability: 'readOnly', returned: 'always', uniqueness: 'server',
  }),
  str('externalId', 'An identifier for the resource as defined by the provisioning client. scimsync accepts at most 512 characters (the value is indexed).', { caseExact: true }),
  complex(
    'meta',
    'Resource metadata.',
    [
      str('resourceType', 'The name of the resource type of the resource.', { caseExact: true, mutability: 'readOnly' }),
      attr('created', 'dateTime', 'When the resource was added to the service provider.', { mutability: 'readOnly' }),
      attr('lastModified', 'dateTime', 'When the resource was last updated.', { mutability: 'readOnly' }),
      attr('location', 'reference', 'The URI of the resource.', { caseExact: true, mutability: 'readOnly', referenceTypes: ['uri'] }),
      str('version', 'The version (ETag) of the resource.', { caseExact: true, mutability: 'readOnly' }),
    ],
    { mutability: 'readOnly' },
  ),
];

export const USER_SCHEMA_DEF: SchemaDef = {
  id: USER_SCHEMA,
  name: 'User',
  description: 'User Account',
  attributes: [
    str('userName', 'Unique identifier for the User; scimsync matches it, case-insensitively, as the email address. At most 512 characters (the value is indexed).', {
      required: true, uniqueness: 'server',
    }),
    complex('name', "The components of the user's real name.", [
      str('formatted', 'The full name, formatted for display.'),
      str('familyName', 'The family name.'),
      str('givenName', 'The given name.'),
      str('middleName', 'The middle name(s).'),
      str('honorificPrefix', 'The honorific prefix(es).'),
      str('honorificSuffix', 'The honorific suffix(es).'),
    ]),
    str('displayName', 'The name of the User, suitable for display to end-users.'),
    str('nickName', 'The casual way to address the user.'),
    attr('profileUrl', 'reference', "A URI of the user's online profile.", { referenceTypes: ['external'] }),
    str('title', "The user's title."),
    str('userType', 'Used to identify the relationship between the organization and the user.'),
    str('preferredLanguage', "The User's preferred written or spoken language."),
    str('locale', "The User's default location for localisation."),
    str('timezone', "The User's time zone in IANA format."),
    attr('active', 'boolean', "The User's administrative status."),
    str('password', "The User's cleartext password; never stored or returned by scimsync.", {
      mutability: 'writeOnly', returned: 'never',
    }),
    multiValued('emails', 'Email addresses for the user.', ['work', 'home', 'other']),
    multiValued('phoneNumbers', 'Phone numbers for the User.', ['work', 'home', 'mobile', 'fax', 'pager', 'other']),
    multiValued('ims', 'Instant messaging addresses for the User.', ['aim', 'gtalk', 'icq', 'xmpp', 'msn', 'skype', 'qq', 'yahoo']),
    multiValued('photos', 'URLs of photos of the User.', ['photo', 'thumbnail'], 'reference'),
    complex(
      'addresses',
      'A physical mailing address for this User.',
      [
        str('formatted', 'The full mailing address.'),
        str('streetAddress', 'The full street address component.'),
        str('locality', 'The city or locality component.'),
        str('region', 'The state or region component.'),
        str('postalCode', 'The zip code or postal code component.'),
        str('country', 'The country name component.'),
        str('type', "A label indicating the attribute's function.", { canonicalValues: ['work', 'home', 'other'] }),
        attr('primary', 'boolean', 'Indicates the primary address.'),
      ],
      { multiValued: true },
    ),
    memberRef('groups', 'The groups the user belongs to, computed by the service provider.', ['Group'], {
      mutability: 'readOnly',
    }),
    multiValued('entitlements', 'A list of entitlements for the User.', []),
    multiValued('roles', 'A list of roles for the User.', []),
    multiValued('x509Certificates', 'A list of certificates issued to the User.', [], 'binary'),
  ],
};

export const ENTERPRISE_USER_SCHEMA_DEF: SchemaDef = {
  id: ENTERPRISE_USER_SCHEMA,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    str('employeeNumber', 'Numeric or alphanumeric identifier assigned to a person.'),
    str('costCenter', 'Identifies the name of a cost center.'),
    str('organization', 'Identifies the name of an organization.'),
    str('division', 'Identifies the name of a division.'),
    str('department', 'Identifies the name of a department.'),
    complex('manager', "The User's manager.", [
      str('value', 'The id of the SCIM resource representing the manager.'),
      attr('$ref', 'reference', 'The URI of the manager resource.', { referenceTypes: ['User'] }),
      str('displayName', 'The displayName of the manager.', { mutability: 'readOnly' }),
    ]),
  ],
};

export const GROUP_SCHEMA_DEF: SchemaDef = {
  id: GROUP_SCHEMA,
  name: 'Group',
  description: 'Group',
  attributes: [
    str('displayName', 'A human-readable name for the Group. scimsync accepts at most 512 characters (the value is indexed).', { required: true }),
    memberRef('members', 'A list of members of the Group.', ['User', 'Group']),
  ],
};

export interface ResourceTypeDef {
  name: 'User' | 'Group';
  endpoint: '/Users' | '/Groups';
  description: string;
  schema: SchemaDef;
  extensions: { schema: SchemaDef; required: boolean }[];
}

export const USER_RESOURCE: ResourceTypeDef = {
  name: 'User',
  endpoint: '/Users',
  description: 'User Account',
  schema: USER_SCHEMA_DEF,
  extensions: [{ schema: ENTERPRISE_USER_SCHEMA_DEF, required: false }],
};

export const GROUP_RESOURCE: ResourceTypeDef = {
  name: 'Group',
  endpoint: '/Groups',
  description: 'Group',
  schema: GROUP_SCHEMA_DEF,
  extensions: [],
};

export const RESOURCE_TYPES: ResourceTypeDef[] = [USER_RESOURCE, GROUP_RESOURCE];
export const ALL_SCHEMAS: SchemaDef[] = [USER_SCHEMA_DEF, GROUP_SCHEMA_DEF, ENTERPRISE_USER_SCHEMA_DEF];
