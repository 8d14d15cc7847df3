// Discovery documents (RFC 7644 §4, RFC 7643 §5–7): what this server really supports.
import {
  ALL_SCHEMAS, COMMON_ATTRIBUTES, RESOURCE_TYPES, RESOURCE_TYPE_SCHEMA, SCHEMA_SCHEMA, SPC_SCHEMA,
  type AttributeDef, type ResourceTypeDef, type SchemaDef,
} from './schemas.js';

export interface DiscoveryOptions {
  baseUrl: string;
  maxResults: number;
  defaultCount: number;
  maxPayloadBytes: number;
}

export function serviceProviderConfig(o: DiscoveryOptions) {
  return {
    schemas: [SPC_SCHEMA],
    documentationUri: 'https://github.com/scimsync/scimsync/blob/main/docs/scim.md',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: o.maxResults },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    // RFC 9865 §4: cursor-based pagination alongside index-based.
    pagination: {
      cursor: true,
      index: true,
      defaultPaginationMethod: 'index',
      defaultPageSize: o.defaultCount,
      maxPageSize: o.maxResults,
      cursorTimeout: 0,
    },
    maxPayloadSize: o.maxPayloadBytes,
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: 'A per-organization bearer token issued by `scimsync token create` or the ScimConfig Secret.',
        specUri: 'https://www.rfc-editor.org/info/rfc6750',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${o.baseUrl}/ServiceProviderConfig` },
  };
}

export function resourceTypeDoc(rt: ResourceTypeDef, baseUrl: string) {
  return {
    schemas: [RESOURCE_TYPE_SCHEMA],
    id: rt.name,
    name: rt.name,
    endpoint: rt.endpoint,
    description: rt.description,
    schema: rt.schema.id,
    schemaExtensions: rt.extensions.map((e) => ({ schema: e.schema.id, required: e.required })),
    meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/${rt.name}` },
  };
}

function attributeDoc(a: AttributeDef): Record<string, unknown> {
  const { subAttributes, ...rest } = a;
  return subAttributes ? { ...rest, subAttributes: subAttributes.map(attributeDoc) } : { ...rest };
}

export function schemaDoc(s: SchemaDef, baseUrl: string) {
  // Common attributes (id, externalId, meta) are not part of any schema (RFC 7643 §3.1),
  // but clients look for externalId; list it on the core resource schemas.
  const extra = s.id === ALL_SCHEMAS[2]?.id ? [] : COMMON_ATTRIBUTES.filter((a) => a.name === 'externalId');
  return {
    schemas: [SCHEMA_SCHEMA],
    id: s.id,
    name: s.name,
    description: s.description,
    attributes: [...s.attributes, ...extra].map(attributeDoc),
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${s.id}` },
  };
}

export const findResourceType = (name: string) => RESOURCE_TYPES.find((r) => r.name.toLowerCase() === name.toLowerCase());
export const findSchema = (id: string) => ALL_SCHEMAS.find((s) => s.id.toLowerCase() === id.toLowerCase());
