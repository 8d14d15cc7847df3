// What scimsync stores and answers for a SCIM resource. normalizeResource turns whatever a
// client sent (any attribute case, URN-prefixed keys, Entra's "active": "False") into the one
// canonical stored shape; serializeResource and projectAttributes turn it back into the
// strict RFC 7643 representation. Lenient in, strict out (shared/conformance/README.md).
import { badRequest } from './errors.js';
import { type AttrPath, extensionByUrn, findAttr, resolvePath, splitSchemaPrefix } from './paths.js';
import { type AttributeDef, type ResourceTypeDef, COMMON_ATTRIBUTES, GROUP_SCHEMA } from './schemas.js';

export type NormalizeMode = 'create' | 'replace' | 'patch-result';
export type Json = Record<string, unknown>;

/** A Group member as the store keeps it (RFC 7643 §4.2: value, type; display and $ref are derived). */
export interface MemberRef {
  value: string;
  type: 'User' | 'Group';
}

export interface ResourceMeta {
  id: string;
  created: Date | string;
  lastModified: Date | string;
  location: string;
  version: string;
}

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Attributes a client can never set: readOnly (RFC 7643 §7) and writeOnly-never-returned (password). */
const notStored = (def: AttributeDef) => def.mutability === 'readOnly' || def.returned === 'never';

/** Group members live in their own table, never in the stored Group document. */
const isMembers = (rt: ResourceTypeDef, def: AttributeDef) => rt.name === 'Group' && def.name === 'members';

function coerceSimple(def: AttributeDef, v: unknown, label: string): unknown {
  const fail = (want: string) => badRequest('invalidValue', `${label} must be ${want}, got ${JSON.stringify(v)}`);
  switch (def.type) {
    case 'boolean':
      if (typeof v === 'boolean') return v;
      // Entra sends "active": "False" (shared/conformance/README.md).
      if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
      throw fail('a boolean');
    case 'integer':
    case 'decimal': {
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isFinite(n)) throw fail('a number');
      if (def.type === 'integer' && !Number.isInteger(n)) throw fail('an integer');
      return n;
    }
    case 'dateTime':
      if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) throw fail('an xsd:dateTime string');
      return v;
    default:
      // string, reference, binary. Numbers are accepted and stringified (IdPs send employeeNumber: 1234).
      // Postgres text and jsonb cannot hold U+0000: refuse it here rather than fail the INSERT.
      if (typeof v === 'string' && v.includes('\u0000')) throw badRequest('invalidValue', `${label} must not contain a NUL character`);
      if (typeof v === 'string') return v;
      if (typeof v === 'number' && Number.isFinite(v)) return String(v);
      throw fail('a string');
  }
}

function coerceComplex(def: AttributeDef, v: unknown, label: string): Json | undefined {
  // Entra sends the enterprise manager as a bare id string: accept it (and any bare value of a
  // complex attribute that has a "value" sub-attribute) as {value: id}.
  if ((typeof v === 'string' || typeof v === 'number') && findAttr(def.subAttributes, 'value')) v = { value: v };
  if (!isObject(v)) throw badRequest('invalidValue', `${label} must be an object, got ${JSON.stringify(v)}`);
  const out: Json = {};
  for (const [key, raw] of Object.entries(v)) {
    const sub = findAttr(def.subAttributes, key);
    if (!sub || notStored(sub) || raw === null || raw === undefined) continue;
    out[sub.name] = coerceSimple(sub, raw, `${label}.${sub.name}`);
  }
  return Object.keys(out).length ? out : undefined;
}

function coerceOne(def: AttributeDef, v: unknown, label: string): unknown {
  if (v === null || v === undefined) return undefined;
  return def.type === 'complex' ? coerceComplex(def, v, label) : coerceSimple(def, v, label);
}

/** RFC 7643 §2.4: at most one element may be primary. Lenient: the first one wins. */
function dedupePrimary(items: unknown[]): unknown[] {
  const first = items.find((x) => isObject(x) && x.primary === true);
  return items.map((x) => (x !== first && isObject(x) && x.primary === true ? { ...x, primary: false } : x));
}

/**
 * Checks and converts one attribute value against its definition. Returns undefined for
 * "unassigned" (null, empty array, empty object: RFC 7643 §2.5).
 */
export function coerceAttribute(def: AttributeDef, v: unknown, label = def.name): unknown {
  if (!def.multiValued) {
    if (Array.isArray(v)) throw badRequest('invalidValue', `${label} is single-valued, got an array`);
    return coerceOne(def, v, label);
  }
  if (v === null || v === undefined) return undefined;
  // A single object where an array belongs is wrapped (lenient).
  const items = (Array.isArray(v) ? v : [v]).map((x) => coerceOne(def, x, label)).filter((x) => x !== undefined);
  if (!items.length) return undefined;
  return findAttr(def.subAttributes, 'primary') ? dedupePrimary(items) : items;
}

/** Canonical key of the object holding an attribute: '' for core, the URN for an extension. */
const holderKey = (p: AttrPath) => (p.extension ? p.schema : '');

/** Flattens the client's keys into [path, value] pairs, unfolding core/extension URN objects. */
function flattenInput(rt: ResourceTypeDef, input: Json): [AttrPath, unknown][] {
  const out: [AttrPath, unknown][] = [];
  const visit = (key: string, value: unknown, prefix: string) => {
    const [urn, rest] = prefix ? [undefined, key] : splitSchemaPrefix(rt, key);
    if (urn && rest === '') {
      // {"urn:…:core:2.0:User": {…}} or {"urn:…:enterprise:2.0:User": {…}}
      if (isObject(value)) for (const [k, v] of Object.entries(value)) visit(k, v, urn);
      else if (value !== null && value !== undefined) {
        throw badRequest('invalidValue', `${urn} must be an object`);
      }
      return;
    }
    const path = resolvePath(rt, prefix ? `${prefix}:${key}` : key);
    if (path) out.push([path, value]);
  };
  for (const [key, value] of Object.entries(input)) {
    if (key.toLowerCase() !== 'schemas') visit(key, value, '');
  }
  return out;
}

/**
 * Most characters of an attribute scimsync keeps in a btree index (userName, externalId, a
 * Group's displayName). A btree entry holds at most ~2,700 bytes; 512 characters are at most
 * 2,048 bytes of UTF-8, so any value within the limit indexes. Stated in /Schemas.
 */
export const MAX_INDEXED_LENGTH = 512;

/** The attributes MAX_INDEXED_LENGTH applies to, per resource type (core schema). */
export const INDEXED_ATTRIBUTES: Record<string, readonly string[]> = { User: ['userName', 'externalId'], Group: ['displayName', 'externalId'] };

function checkIndexedLengths(rt: ResourceTypeDef, core: Json): void {
  for (const name of INDEXED_ATTRIBUTES[rt.name] ?? []) {
    const v = core[name];
    // Length in code points, as a client counts characters.
    if (typeof v === 'string' && v.length > MAX_INDEXED_LENGTH && [...v].length > MAX_INDEXED_LENGTH) {
      throw badRequest('invalidValue', `${name} is ${[...v].length} characters long; at most ${MAX_INDEXED_LENGTH} are accepted (see /Schemas)`);
    }
  }
}

function checkRequired(rt: ResourceTypeDef, core: Json, mode: NormalizeMode): void {
  for (const def of rt.schema.attributes) {
    if (!def.required || notStored(def)) continue;
    const v = core[def.name];
    if (v === undefined || (typeof v === 'string' && v.trim() === '')) {
      throw badRequest('invalidValue', mode === 'patch-result' ? `${def.name} is required and cannot be emptied` : `${def.name} is required`);
    }
  }
}

/** Orders an object's keys as the schema lists its attributes, so stored documents compare stably. */
function inSchemaOrder(attrs: AttributeDef[], values: Json): Json {
  const out: Json = {};
  for (const def of attrs) if (values[def.name] !== undefined) out[def.name] = values[def.name];
  return out;
}

/** Returns the resource as scimsync stores it; throws ScimError 400 for what cannot be accepted. */
export function normalizeResource(rt: ResourceTypeDef, input: unknown, mode: NormalizeMode): Json {
  if (!isObject(input)) throw badRequest('invalidSyntax', `The ${rt.name} must be a JSON object`);
  const holders = new Map<string, Json>([['', {}]]);
  for (const [path, raw] of flattenInput(rt, input)) {
    const def = path.attribute;
    if (notStored(def) || isMembers(rt, def)) continue; // id, meta, groups, password (RFC 7643 §7)
    const key = holderKey(path);
    const holder = holders.get(key) ?? holders.set(key, {}).get(key)!;
    if (!path.sub) {
      const v = coerceAttribute(def, raw, def.name);
      // {"name": {…}, "name.familyName": …} in one body: a single complex value merges.
      const prev = holder[def.name];
      holder[def.name] = isObject(prev) && isObject(v) ? { ...prev, ...v } : v;
    } else if (!notStored(path.sub) && !def.multiValued) {
      // A dotted key such as "name.givenName" sets one sub-attribute of a single-valued complex;
      // "emails.value" names no element and is dropped like an unknown attribute.
      const merged = { ...(isObject(holder[def.name]) ? (holder[def.name] as Json) : {}), [path.sub.name]: raw };
      holder[def.name] = coerceAttribute(def, merged, def.name);
    }
  }
  const core = holders.get('')!;
  if (typeof core.userName === 'string') core.userName = core.userName.trim();
  checkIndexedLengths(rt, core);
  // Required attributes (RFC 7643 §2.2) must survive a PATCH too; 'create' and 'replace' check the body.
  checkRequired(rt, core, mode);

  const out: Json = { schemas: [rt.schema.id] };
  Object.assign(out, inSchemaOrder([...COMMON_ATTRIBUTES, ...rt.schema.attributes], core));
  for (const ext of rt.extensions) {
    const values = inSchemaOrder(ext.schema.attributes, holders.get(ext.schema.id) ?? {});
    if (!Object.keys(values).length) continue;
    (out.schemas as string[]).push(ext.schema.id);
    out[ext.schema.id] = values;
  }
  return out;
}

/** Converts one member reference as IdPs send it: {value, type?, display?, $ref?} or a bare id. */
export function toMemberRef(raw: unknown): MemberRef {
  // The Microsoft collection adds members as a bare string id
  // (shared/conformance/microsoft/PostmanCollection.json, "Group patch add member").
  const item = typeof raw === 'string' ? { value: raw } : raw;
  if (!isObject(item)) throw badRequest('invalidValue', `A member must be an object with a value, got ${JSON.stringify(raw)}`);
  const lower = Object.fromEntries(Object.entries(item).map(([k, v]) => [k.toLowerCase(), v]));
  const value = lower.value;
  if (typeof value !== 'string' || value.trim() === '') {
    throw badRequest('invalidValue', `A member value must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  // display and $ref are derived by the server; Entra sends "$ref": null.
  if (lower.type !== undefined && lower.type !== null && typeof lower.type !== 'string') {
    throw badRequest('invalidValue', `A member type must be "User" or "Group", got ${JSON.stringify(lower.type)}`);
  }
  const type = lower.type === undefined || lower.type === null ? 'user' : lower.type.toLowerCase();
  if (type !== 'user' && type !== 'group') {
    throw badRequest('invalidValue', `A member type must be "User" or "Group", got ${JSON.stringify(lower.type)}`);
  }
  return { value: value.trim(), type: type === 'user' ? 'User' : 'Group' };
}

/** Converts a members value (array, single object or bare id; null = none); duplicates collapse. */
export function toMemberRefs(raw: unknown): MemberRef[] {
  if (raw === null || raw === undefined) return [];
  const seen = new Map<string, MemberRef>();
  for (const m of (Array.isArray(raw) ? raw : [raw]).map(toMemberRef)) if (!seen.has(m.value)) seen.set(m.value, m);
  return [...seen.values()];
}

/** The members a POST/PUT /Groups body names ("members", any case, also under the core URN). */
export function extractMembers(input: unknown): MemberRef[] {
  if (!isObject(input)) return [];
  return toMemberRefs(findEntry(input, 'members') ?? findEntry(findEntry(input, GROUP_SCHEMA), 'members'));
}

function findEntry(obj: unknown, name: string): unknown {
  if (!isObject(obj)) return undefined;
  const key = Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : obj[key];
}

const iso = (d: Date | string) => (d instanceof Date ? d.toISOString() : d);

/** Full SCIM representation for a response (RFC 7643 §3, §4); projectAttributes trims it. */
export function serializeResource(
  rt: ResourceTypeDef,
  stored: Json,
  meta: ResourceMeta,
  extras: { groups?: unknown[]; members?: unknown[] } = {},
): Json {
  const exts = rt.extensions.map((e) => e.schema.id).filter((urn) => isObject(stored[urn]));
  const out: Json = { schemas: [rt.schema.id, ...exts], id: meta.id };
  if (stored.externalId !== undefined) out.externalId = stored.externalId;
  out.meta = {
    resourceType: rt.name,
    created: iso(meta.created),
    lastModified: iso(meta.lastModified),
    location: meta.location,
    version: meta.version,
  };
  for (const def of rt.schema.attributes) {
    if (def.returned === 'never') continue;
    if (stored[def.name] !== undefined) out[def.name] = stored[def.name];
  }
  // RFC 7643 §4.1.1 leaves active's default to the provider: scimsync treats absent as active.
  if (rt.name === 'User' && out.active === undefined) out.active = true;
  if (rt.name === 'User' && extras.groups?.length) out.groups = extras.groups;
  if (rt.name === 'Group' && extras.members?.length) out.members = extras.members;
  for (const urn of exts) out[urn] = stored[urn];
  return out;
}

/** Attribute names from attributes= / excludedAttributes=, resolved to `${holder}|${name}` keys. */
interface Selection {
  whole: Set<string>;
  subs: Map<string, Set<string>>;
  /** Extension URNs named bare ("attributes=urn:…:enterprise:2.0:User"). */
  extensions: Set<string>;
  given: boolean;
}

const NO_SELECTION: Selection = { whole: new Set(), subs: new Map(), extensions: new Set(), given: false };
/** Parsed selections by the names array a request passes for each resource of a page. */
const selections = new WeakMap<ResourceTypeDef, WeakMap<string[], Selection>>();

function parseSelection(rt: ResourceTypeDef, names: string[] | undefined): Selection {
  if (!names?.length) return NO_SELECTION;
  let cache = selections.get(rt);
  if (!cache) selections.set(rt, (cache = new WeakMap()));
  let sel = cache.get(names);
  if (!sel) cache.set(names, (sel = parseSelectionOf(rt, names)));
  return sel;
}

function parseSelectionOf(rt: ResourceTypeDef, names: string[]): Selection {
  const sel: Selection = { whole: new Set(), subs: new Map(), extensions: new Set(), given: false };
  for (const name of (names ?? []).flatMap((n) => n.split(',')).map((n) => n.trim())) {
    if (!name) continue;
    sel.given = true;
    const ext = extensionByUrn(rt, name);
    if (ext) {
      sel.extensions.add(ext.schema.id);
      continue;
    }
    // RFC 7644 §3.4.2.5 does not make unknown names an error: they select nothing.
    const p = resolvePath(rt, name);
    if (!p) continue;
    const key = `${holderKey(p)}|${p.attribute.name}`;
    if (!p.sub) sel.whole.add(key);
    else (sel.subs.get(key) ?? sel.subs.set(key, new Set()).get(key)!).add(p.sub.name);
  }
  return sel;
}

/** Keeps the sub-attributes `keep` accepts, in every element of a complex (multi-)value. */
function filterSubs(def: AttributeDef, value: unknown, keep: (sub: AttributeDef) => boolean): unknown {
  if (def.type !== 'complex') return value;
  const one = (v: unknown) => {
    if (!isObject(v)) return v;
    const entries = Object.entries(v).filter(([k]) => {
      const sub = findAttr(def.subAttributes, k);
      return sub ? keep(sub) : true;
    });
    return entries.length ? Object.fromEntries(entries) : undefined;
  };
  if (!Array.isArray(value)) return one(value);
  const items = value.map(one).filter((x) => x !== undefined);
  return items.length ? items : undefined;
}

/** RFC 7643 §7 "returned" + RFC 7644 §3.4.2.5 for one attribute; undefined = leave it out. */
function projectOne(def: AttributeDef, value: unknown, holder: string, inc: Selection, exc: Selection): unknown {
  if (def.returned === 'never') return undefined;
  if (def.returned === 'always') return value;
  const key = `${holder}|${def.name}`;
  const byDefault = (sub: AttributeDef) => sub.returned === 'always' || sub.returned === 'default';
  if (inc.given) {
    if (inc.whole.has(key) || inc.extensions.has(holder)) {
      const named = inc.subs.get(key);
      return filterSubs(def, value, (sub) => byDefault(sub) || !!named?.has(sub.name));
    }
    const named = inc.subs.get(key);
    return named ? filterSubs(def, value, (sub) => sub.returned === 'always' || named.has(sub.name)) : undefined;
  }
  if (def.returned === 'request' || exc.whole.has(key) || exc.extensions.has(holder)) return undefined;
  const dropped = exc.subs.get(key);
  return filterSubs(def, value, (sub) => sub.returned === 'always' || (sub.returned === 'default' && !dropped?.has(sub.name)));
}

const hiding = new WeakMap<ResourceTypeDef, boolean>();

/**
 * Whether the default projection (no attributes=/excludedAttributes=) can drop anything from a
 * serialized resource of `rt`: some attribute or sub-attribute it may carry is returned
 * "never" or "request" (RFC 7643 §7). Core attributes returned "never" (password) do not count:
 * serializeResource leaves them out already. Stored resources hold no empty complex values and
 * no unknown keys (normalizeResource), the other things projectOne would drop.
 */
function hidesByDefault(rt: ResourceTypeDef): boolean {
  let hides = hiding.get(rt);
  if (hides === undefined) {
    const hidden = (a: AttributeDef) => a.returned === 'never' || a.returned === 'request';
    const deep = (a: AttributeDef): boolean => hidden(a) || (a.subAttributes ?? []).some(deep);
    hides =
      rt.schema.attributes.some((a) => (a.returned === 'never' ? false : deep(a))) ||
      COMMON_ATTRIBUTES.some(deep) ||
      rt.extensions.some((e) => e.schema.attributes.some(deep));
    hiding.set(rt, hides);
  }
  return hides;
}

/**
 * Applies attributes= / excludedAttributes= (RFC 7644 §3.4.2.5) to a serialized resource.
 * Names are case-insensitive, may be URN-prefixed or dotted ("name.givenName", "emails.value").
 * When both are given, attributes wins (the RFC defines them as alternatives).
 */
export function projectAttributes(
  rt: ResourceTypeDef,
  resource: Json,
  attributes?: string[],
  excludedAttributes?: string[],
): Json {
  const inc = parseSelection(rt, attributes);
  const exc = parseSelection(rt, excludedAttributes);
  // No selection over a type that hides nothing by default: the projection is the resource
  // itself (it spent half the CPU of rendering a page of users walking and copying every value).
  if (!inc.given && !exc.given && !hidesByDefault(rt)) return resource;
  const out: Json = {};
  for (const [key, value] of Object.entries(resource)) {
    if (key === 'schemas') {
      out[key] = value;
      continue;
    }
    const ext = rt.extensions.find((e) => e.schema.id === key);
    if (ext) {
      const projected: Json = {};
      for (const [k, v] of Object.entries(isObject(value) ? value : {})) {
        const def = findAttr(ext.schema.attributes, k);
        const p = def ? projectOne(def, v, key, inc, exc) : undefined;
        if (p !== undefined) projected[k] = p;
      }
      if (Object.keys(projected).length) out[key] = projected;
      continue;
    }
    const def = findAttr(rt.schema.attributes, key) ?? findAttr(COMMON_ATTRIBUTES, key);
    const p = def ? projectOne(def, value, '', inc, exc) : inc.given ? undefined : value;
    if (p !== undefined) out[key] = p;
  }
  return out;
}
