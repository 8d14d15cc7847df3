// PATCH on a multi-valued complex attribute through a value filter, e.g.
// emails[type eq "work"].value (RFC 7644 §3.5.2.1–3).
import { badRequest } from '../errors.js';
import { matchesValueFilter } from '../filter.js';
import { type Json, coerceAttribute, isObject } from '../resource.js';
import type { AttributeDef } from '../schemas.js';
import type { FilterNode, PatchOpName } from './types.js';
import { primariesOf, replaceElement } from './json.js';

/**
 * RFC 7644 §3.5.2: setting "primary" to true on one value makes the server set it false on all
 * others. `preferred` are the elements this operation wrote; the first primary one among them wins.
 */
/**
 * preferPrimary in place, for an array the engine owns (the working copy): replaces the
 * elements that lose "primary" without copying the array.
 */
export function clearOtherPrimaries(items: unknown[], preferred: unknown[]): void {
  const winner = preferred.find((x) => isObject(x) && x.primary === true);
  if (!winner) return;
  for (const i of [...primariesOf(items)]) {
    const x = items[i];
    if (x !== winner && isObject(x)) replaceElement(items, i, { ...x, primary: false });
  }
}

export function preferPrimary(items: unknown[], preferred: unknown[]): unknown[] {
  const winner = preferred.find((x) => isObject(x) && x.primary === true);
  if (!winner) return items;
  return items.map((x) => (x !== winner && isObject(x) && x.primary === true ? { ...x, primary: false } : x));
}

/** The element an `and` of `sub eq literal` comparisons describes: {type: "work"}. */
function literalsOf(node: FilterNode): Json | undefined {
  if (node.kind === 'and') {
    const l = literalsOf(node.left);
    const r = literalsOf(node.right);
    return l && r ? { ...l, ...r } : undefined;
  }
  if (node.kind === 'compare' && node.op === 'eq' && node.value !== null) {
    return { [(node.path.sub ?? node.path.attribute).name]: node.value };
  }
  return undefined;
}

const single = (def: AttributeDef): AttributeDef => ({ ...def, multiValued: false });

function noTarget(label: string): never {
  throw badRequest('noTarget', `No value of ${label} matches the filter`);
}

/**
 * Applies add/replace/remove to the elements of holder[def.name] the filter selects, or to
 * their `sub` attribute. Returns the new list (undefined = attribute unassigned).
 */
export function applyFiltered(
  items: unknown[],
  def: AttributeDef,
  filter: FilterNode,
  sub: AttributeDef | undefined,
  op: PatchOpName,
  value: unknown,
): unknown[] | undefined {
  const label = sub ? `${def.name}.${sub.name}` : def.name;
  const hits = items.filter((el) => isObject(el) && matchesValueFilter(filter, el));
  if (!hits.length) return noMatch(items, def, filter, sub, op, value, label);
  const written: unknown[] = [];
  const out: unknown[] = [];
  for (const el of items) {
    if (!hits.includes(el)) out.push(el);
    else {
      const next = rewrite(el as Json, def, sub, op, value, label);
      if (next !== undefined) out.push(next), written.push(next);
    }
  }
  return out.length ? preferPrimary(out, written) : undefined;
}

/**
 * A value filter that selects nothing. RFC 7644 Table 9 makes that noTarget; scimsync deviates
 * where an IdP's request describes a state it can simply reach (docs/scim.md, "PATCH"):
 * - remove: nothing to remove, the desired state holds. Entra removes
 *   `urn:…:enterprise:2.0:User:manager[value eq "id"]` and `emails[type eq "work"]` for values the
 *   target may not have, in the same PATCH as `active: "False"`; a 400 would keep the user active
 *   and make Entra retry the same request forever. Removals are idempotent, as for members.
 * - add and replace through an `eq` filter (Entra: `Add phoneNumbers[type eq "mobile"].value`,
 *   `Replace emails[type eq "work"].value` on a user whose stored email has no type): the element
 *   the filter describes is created, per §3.5.2.1 "if the target location does not exist, the
 *   attribute and value are added" and §3.5.2.3 "SHALL treat the operation as an add".
 * Any other filter (co, sw, or, …) describes no element: noTarget.
 */
function noMatch(items: unknown[], def: AttributeDef, filter: FilterNode, sub: AttributeDef | undefined, op: PatchOpName, value: unknown, label: string) {
  if (op === 'remove') return items.length ? items : undefined;
  const literals = literalsOf(filter);
  if (!literals) return noTarget(label);
  if (value === null) return items.length ? items : undefined; // setting nothing
  const element = sub ? { ...literals, [sub.name]: value } : isObject(value) ? { ...literals, ...value } : undefined;
  if (!element) throw badRequest('invalidValue', `${label} needs an object value`);
  const created = coerceAttribute(single(def), element, def.name);
  return created === undefined ? items : preferPrimary([...items, created], [created]);
}

/** The new value of one matched element; undefined drops it. */
function rewrite(el: Json, def: AttributeDef, sub: AttributeDef | undefined, op: PatchOpName, value: unknown, label: string) {
  if (sub) {
    const { [sub.name]: _dropped, ...rest } = el;
    if (op === 'remove') return Object.keys(rest).length ? rest : undefined;
    const v = coerceAttribute(sub, value, label);
    return v === undefined ? rest : { ...rest, [sub.name]: v };
  }
  if (op === 'remove') return undefined;
  const v = coerceAttribute(single(def), value, label) as Json | undefined;
  // add merges the given sub-attributes into each match; replace replaces each match (§3.5.2.3).
  return op === 'add' ? { ...el, ...v } : v;
}
