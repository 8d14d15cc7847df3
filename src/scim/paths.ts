// Attribute path resolution (RFC 7644 §3.10): attribute names are case-insensitive and may be
// prefixed by their schema URN ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value").
// Everything downstream (filters, PATCH, projection) works on the canonical names returned here.
import { type AttributeDef, type ResourceTypeDef, COMMON_ATTRIBUTES } from './schemas.js';

export interface AttrPath {
  /** URN of the schema that defines the attribute. */
  schema: string;
  /** True when the attribute lives under the extension URN key in the JSON representation. */
  extension: boolean;
  attribute: AttributeDef;
  /** Sub-attribute, for "name.givenName", "emails.value", "meta.lastModified". */
  sub?: AttributeDef;
}

/** The schema URNs a resource type knows, longest first so prefixes match greedily. */
function schemaIds(rt: ResourceTypeDef): string[] {
  return [rt.schema.id, ...rt.extensions.map((e) => e.schema.id)].sort((a, b) => b.length - a.length);
}

/** Splits a known schema URN prefix off a path: returns [schemaUrn | undefined, rest]. */
export function splitSchemaPrefix(rt: ResourceTypeDef, raw: string): [string | undefined, string] {
  const lower = raw.toLowerCase();
  if (!lower.startsWith('urn:')) return [undefined, raw];
  for (const id of schemaIds(rt)) {
    const l = id.toLowerCase();
    if (lower === l) return [id, ''];
    // "urn:…:enterprise:2.0:User.department": the old Entra job (customappsso) put a dot where
    // RFC 7644 §3.10 has a colon (Microsoft: "Known issues … SCIM 2.0 protocol compliance").
    if (lower.startsWith(l + ':') || lower.startsWith(l + '.')) return [id, raw.slice(id.length + 1)];
  }
  return [undefined, raw];
}

/** Returns the extension schema a bare URN names ("urn:…:enterprise:2.0:User"), if any. */
export function extensionByUrn(rt: ResourceTypeDef, raw: string) {
  const lower = raw.toLowerCase();
  return rt.extensions.find((e) => e.schema.id.toLowerCase() === lower);
}

/** Attribute lists by lowercased name (the first of a name wins, as a linear search would). */
const byLowerName = new WeakMap<AttributeDef[], Map<string, AttributeDef>>();

/**
 * The attribute of `attrs` named `name`, case-insensitively (RFC 7643 §2.1: attribute names
 * are case insensitive). A map per list, built once: this runs for every key of every
 * resource rendered or normalised (a page of 100 users made it a visible share of the CPU).
 */
export const findAttr = (attrs: AttributeDef[] | undefined, name: string): AttributeDef | undefined => {
  if (!attrs) return undefined;
  let map = byLowerName.get(attrs);
  if (!map) {
    map = new Map();
    for (const a of attrs) {
      const k = a.name.toLowerCase();
      if (!map.has(k)) map.set(k, a);
    }
    byLowerName.set(attrs, map);
  }
  return map.get(name) ?? map.get(name.toLowerCase());
};

/**
 * Resolves "attr", "attr.sub" or "urn:…:attr[.sub]" against a resource type.
 * Returns undefined for an unknown attribute; callers decide which SCIM error that is.
 */
export function resolvePath(rt: ResourceTypeDef, raw: string): AttrPath | undefined {
  const [urn, rest] = splitSchemaPrefix(rt, raw);
  if (!rest) return undefined;
  if (raw.toLowerCase().startsWith('urn:') && !urn) return undefined;
  const dot = rest.indexOf('.');
  const head = dot < 0 ? rest : rest.slice(0, dot);
  const tail = dot < 0 ? undefined : rest.slice(dot + 1);

  let schema: string | undefined;
  let attribute: AttributeDef | undefined;
  if (urn && urn !== rt.schema.id) {
    attribute = findAttr(rt.extensions.find((e) => e.schema.id === urn)?.schema.attributes, head);
    schema = urn;
  } else {
    attribute = findAttr(rt.schema.attributes, head) ?? findAttr(COMMON_ATTRIBUTES, head);
    schema = rt.schema.id;
  }
  if (!attribute) return undefined;
  const result: AttrPath = { schema, extension: schema !== rt.schema.id, attribute };
  if (tail !== undefined) {
    const sub = findAttr(attribute.subAttributes, tail);
    if (!sub) return undefined;
    result.sub = sub;
  }
  return result;
}

/** Canonical dotted name, e.g. "emails.value" or "urn:…:enterprise:2.0:User:manager.value". */
export function formatPath(p: AttrPath): string {
  const base = p.sub ? `${p.attribute.name}.${p.sub.name}` : p.attribute.name;
  return p.extension ? `${p.schema}:${base}` : base;
}
