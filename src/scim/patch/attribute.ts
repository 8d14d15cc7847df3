// One PATCH operation against a resolved path (RFC 7644 §3.5.2.1 add, §3.5.2.2 remove,
// §3.5.2.3 replace). Works on the canonical stored document in PatchState.doc.
import { ScimError, badRequest } from '../errors.js';
import { type AttrPath, resolvePath, splitSchemaPrefix } from '../paths.js';
import { type Json, coerceAttribute, isObject } from '../resource.js';
import type { AttributeDef } from '../schemas.js';
import { appendUnique, deepEqual } from './json.js';
import { applyMembersOp } from './members.js';
import { applyFiltered, clearOtherPrimaries } from './multiValued.js';
import { matchesValueFilter, parsePatchPath } from '../filter.js';
import type { FilterNode, PatchOpName, PatchPath, PatchState } from './types.js';

/** RFC 7643 §7 mutability and RFC 7644 §3.5.2.2 "required": 400 mutability. */
function checkMutability(op: PatchOpName, def: AttributeDef, sub: AttributeDef | undefined, current: unknown) {
  const name = sub ? `${def.name}.${sub.name}` : def.name;
  if (def.mutability === 'readOnly' || sub?.mutability === 'readOnly') {
    throw badRequest('mutability', `${name} is readOnly`);
  }
  if (op === 'remove' && !sub && def.required) {
    throw badRequest('mutability', `${name} is required and cannot be removed`);
  }
  // immutable: may be set once (when unassigned), never changed afterwards (RFC 7643 §7).
  const immutable = def.mutability === 'immutable' || sub?.mutability === 'immutable';
  if (immutable && current !== undefined) {
    throw badRequest('mutability', `${name} is immutable`);
  }
}

/** The object holding the attribute: the document, or its extension object. */
function holderOf(state: PatchState, path: AttrPath, create: boolean): Json | undefined {
  if (!path.extension) return state.doc;
  const h = state.doc[path.schema];
  if (isObject(h)) return h;
  return create ? (state.doc[path.schema] = {}) : undefined;
}

function setOrDelete(holder: Json, name: string, value: unknown) {
  if (value === undefined) delete holder[name];
  else holder[name] = value;
}

/** add / replace / remove of a whole attribute, no filter, no sub-attribute. */
function applyWhole(holder: Json, def: AttributeDef, op: PatchOpName, value: unknown) {
  const current = holder[def.name];
  if (op === 'remove' && !def.multiValued && def.type === 'complex' && value !== undefined && value !== null) {
    return removeIfSame(holder, def, value);
  }
  if (op === 'remove' && (value === undefined || value === null || !def.multiValued)) {
    delete holder[def.name];
    return;
  }
  const v = coerceAttribute(def, value, def.name);
  if (def.multiValued) {
    const items = Array.isArray(current) ? current : [];
    const given = (v as unknown[] | undefined) ?? [];
    if (op === 'replace') return setOrDelete(holder, def.name, v);
    if (op === 'remove') {
      // remove with a value list drops the listed elements (the shape Entra uses for members).
      const left = items.filter((el) => !given.some((g) => sameElement(g, el)));
      return setOrDelete(holder, def.name, left.length ? left : undefined);
    }
    // add appends, skipping values already present (RFC 7644 §3.5.2.1). In place on the
    // working copy, with a cached key index: a PATCH of thousands of adds stays linear.
    if (!Array.isArray(current)) holder[def.name] = items;
    const added = appendUnique(items, given);
    if (!items.length) delete holder[def.name];
    else clearOtherPrimaries(items, added);
    return;
  }
  // add and replace of a single-valued complex attribute both merge sub-attributes:
  // "sub-attributes that are not specified in the value parameter are left unchanged" (§3.5.2.3).
  if (def.type === 'complex' && isObject(current) && v !== undefined) return setOrDelete(holder, def.name, { ...current, ...(v as Json) });
  if (op === 'add' && v === undefined) return; // nothing to add
  setOrDelete(holder, def.name, v);
}

/**
 * A value filter on a single-valued complex attribute: Entra removes the manager with
 * `urn:…:enterprise:2.0:User:manager[value eq "id"]` (RFC 7644 §3.5.2 defines valuePath for
 * multi-valued attributes only). The value is read as a list of at most one element: the
 * operation applies when it matches; a remove that does not match leaves it alone. An add or
 * replace through a filter that does not match a value that is there is noTarget: creating the
 * described value would silently overwrite a different one.
 */
function applySingleFiltered(holder: Json, def: AttributeDef, filter: FilterNode, sub: AttributeDef | undefined, op: PatchOpName, value: unknown) {
  const current = holder[def.name];
  const items = isObject(current) ? [current] : [];
  if (items.length && op !== 'remove' && !matchesValueFilter(filter, current)) {
    throw badRequest('noTarget', `the value of ${def.name} does not match the filter`);
  }
  const next = applyFiltered(items, { ...def, multiValued: true }, filter, sub, op, value);
  setOrDelete(holder, def.name, next?.[0]);
}

/**
 * remove of a single-valued complex attribute with a value (Entra: `Remove …:manager` with
 * `"value": "id"`, `{"value": "id"}` or, as it removes members, `[{"value": "id"}]`): removed
 * only when one of the given values' sub-attributes all match the current ones, so a stale
 * removal does not clear a manager set since.
 */
function removeIfSame(holder: Json, def: AttributeDef, value: unknown) {
  const current = holder[def.name];
  if (!isObject(current)) return;
  const same = (v: unknown) => {
    let given: unknown;
    try {
      given = coerceAttribute({ ...def, multiValued: false }, v, def.name);
    } catch (err) {
      // A value that names no manager cannot match one: the remove leaves it alone rather
      // than failing the request (and the deactivation beside it).
      if (err instanceof ScimError) return false;
      throw err;
    }
    return !isObject(given) || Object.entries(given).every(([k, x]) => deepEqual(current[k], x));
  };
  if ((Array.isArray(value) ? value : [value]).some(same)) delete holder[def.name];
}

const sameElement = (given: unknown, el: unknown) =>
  deepEqual(given, el) || (isObject(given) && isObject(el) && given.value !== undefined && deepEqual(given.value, el.value));

/** "name.givenName", "manager.value", or (no filter) "emails.value" on every element. */
function applySub(holder: Json, def: AttributeDef, sub: AttributeDef, op: PatchOpName, value: unknown) {
  const label = `${def.name}.${sub.name}`;
  const v = op === 'remove' ? undefined : coerceAttribute(sub, value, label);
  const put = (el: Json) => {
    const { [sub.name]: _old, ...rest } = el;
    const next = v === undefined ? rest : { ...rest, [sub.name]: v };
    return Object.keys(next).length ? next : undefined;
  };
  const current = holder[def.name];
  if (!def.multiValued) return setOrDelete(holder, def.name, put(isObject(current) ? current : {}));
  const items = Array.isArray(current) ? current.filter(isObject) : [];
  if (!items.length && op !== 'remove') throw badRequest('noTarget', `${def.name} has no values to set ${sub.name} on`);
  const next = items.map(put).filter((x) => x !== undefined);
  setOrDelete(holder, def.name, next.length ? next : undefined);
}

/** Applies one operation whose path parsePatchPath resolved. */
export function applyPathOp(state: PatchState, op: PatchOpName, pp: PatchPath, value: unknown): void {
  if (!pp.path) {
    if (!pp.extensionUrn) throw badRequest('invalidPath', 'The path names no attribute');
    if (op === 'remove') delete state.doc[pp.extensionUrn];
    else applyPathless(state, op, value, pp.extensionUrn);
    return;
  }
  const def = pp.path.attribute;
  const sub = pp.subAttr ?? pp.path.sub;
  if (state.rt.name === 'Group' && def.name === 'members' && !pp.path.extension) {
    return applyMembersOp(state, op, pp.filter, sub, value);
  }
  const holder = holderOf(state, pp.path, op !== 'remove');
  checkMutability(op, def, sub, holder?.[def.name]);
  // password is writeOnly and returned never: accepted, never stored (RFC 7643 §4.1.1).
  if (def.returned === 'never' || !holder) return;
  if (pp.filter) {
    if (!def.multiValued) return applySingleFiltered(holder, def, pp.filter, sub, op, value);
    const items = Array.isArray(holder[def.name]) ? (holder[def.name] as unknown[]) : [];
    return setOrDelete(holder, def.name, applyFiltered(items, def, pp.filter, sub, op, value));
  }
  if (sub) return applySub(holder, def, sub, op, value);
  applyWhole(holder, def, op, value);
}

/**
 * An operation without a path (or on a bare extension URN): each key of the value object is
 * applied as if it were the path (RFC 7644 §3.5.2.1, §3.5.2.3). Keys may be dotted or
 * URN-prefixed, in any case. Unknown keys are dropped as on PUT; "id" is ignored because Okta
 * renames groups with {"op":"replace","value":{"id":…,"displayName":…}}.
 */
export function applyPathless(state: PatchState, op: PatchOpName, value: unknown, prefix = ''): void {
  if (!isObject(value)) throw badRequest('invalidValue', `A ${op} without a path needs an object value`);
  for (const [key, v] of Object.entries(value)) {
    if (key.toLowerCase() === 'schemas') continue;
    const [urn, rest] = prefix ? [undefined, key] : splitSchemaPrefix(state.rt, key);
    if (urn && rest === '') {
      applyPathless(state, op, v, urn);
      continue;
    }
    const full = prefix ? `${prefix}:${key}` : key;
    if (full.includes('[')) {
      // Entra with aadOptscim062020 folds value-path operations into one pathless replace:
      // {"emails[type eq \"work\"].value": "x", "name.givenName": "y"} (Microsoft's "Known issues
      // … SCIM 2.0 protocol compliance"). Such a key is a path; an unknown attribute is dropped.
      if (!resolvePath(state.rt, full.slice(0, full.indexOf('[')))) continue;
      applyPathOp(state, op, parsePatchPath(full, state.rt), v);
      continue;
    }
    const path = resolvePath(state.rt, full);
    if (!path || (path.attribute.name === 'id' && !path.extension)) continue;
    applyPathOp(state, op, { path }, v);
  }
}
