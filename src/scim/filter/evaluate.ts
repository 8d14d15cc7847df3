// In-memory filter evaluation, for the PATCH engine's value filters (emails[type eq "work"])
// and anything that must decide a filter without the database. The semantics match
// src/store/filterSql.ts exactly (the SQL tests check both against the same rows):
// - strings compare case-insensitively unless the attribute is caseExact (RFC 7643 §2.2),
//   ordering is by code unit (SQL: collate "C");
// - dateTime compares as instants; booleans and numbers by value;
// - a multi-valued attribute matches when any of its values does (RFC 7644 §3.4.2.2);
// - "ne" is "not eq", so an absent attribute is "ne" anything; "eq null" means "not pr";
// - "pr" is present and non-empty: not null, "", [] or {}.
import type { AttrPath } from '../paths.js';
import type { AttributeDef } from '../schemas.js';
import { type CompareOp, type FilterNode, type FilterValue, leafAttr } from './ast.js';
import { compareInstants, parseInstant } from './dateTime.js';

type Json = Record<string, unknown>;

interface Scope {
  /** The values a leaf path denotes, flattened over multi-valued attributes. */
  values(path: AttrPath): unknown[];
  /** The elements a value path ranges over. */
  elements(path: AttrPath): unknown[];
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const asList = (v: unknown): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

/** Keys are canonical in stored resources; the case-insensitive fallback covers hand-built JSON. */
function get(obj: unknown, key: string): unknown {
  if (!isObject(obj)) return undefined;
  if (key in obj) return obj[key];
  const lower = key.toLowerCase();
  const found = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return found === undefined ? undefined : obj[found];
}

export function isNonEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return Object.keys(v).length > 0;
  return true;
}

function rootScope(resource: Json): Scope {
  const attributeValue = (path: AttrPath) => {
    const container = path.extension ? get(resource, path.schema) : resource;
    return get(container, path.attribute.name);
  };
  return {
    elements: (path) => asList(attributeValue(path)),
    values(path) {
      const v = attributeValue(path);
      if (!path.sub) return asList(v);
      return asList(v).flatMap((el) => asList(get(el, path.sub!.name)));
    },
  };
}

function elementScope(element: unknown): Scope {
  return {
    elements: () => [element],
    values: (path) => (path.sub ? asList(get(element, path.sub.name)) : asList(element)),
  };
}

function order(op: CompareOp, c: number): boolean {
  switch (op) {
    case 'eq': return c === 0;
    case 'gt': return c > 0;
    case 'ge': return c >= 0;
    case 'lt': return c < 0;
    case 'le': return c <= 0;
    default: return false;
  }
}

function compareString(attr: AttributeDef, op: CompareOp, actual: string, expected: string): boolean {
  const [a, e] = attr.caseExact ? [actual, expected] : [actual.toLowerCase(), expected.toLowerCase()];
  switch (op) {
    case 'co': return a.includes(e);
    case 'sw': return a.startsWith(e);
    case 'ew': return a.endsWith(e);
    default: return order(op, a < e ? -1 : a > e ? 1 : 0);
  }
}

/** One actual value against the (already type-checked) operand; a type mismatch never matches. */
function compareOne(attr: AttributeDef, op: CompareOp, actual: unknown, expected: FilterValue): boolean {
  switch (attr.type) {
    case 'boolean':
      return op === 'eq' && actual === expected;
    case 'integer':
    case 'decimal':
      return typeof actual === 'number' && typeof expected === 'number' && order(op, Math.sign(actual - expected));
    case 'dateTime': {
      const a = typeof actual === 'string' ? parseInstant(actual) : undefined;
      const e = typeof expected === 'string' ? parseInstant(expected) : undefined;
      return a !== undefined && e !== undefined && order(op, compareInstants(a, e));
    }
    default:
      if (typeof expected !== 'string') return false;
      if (typeof actual === 'number' || typeof actual === 'boolean') return compareString(attr, op, String(actual), expected);
      return typeof actual === 'string' && compareString(attr, op, actual, expected);
  }
}

function evaluate(node: FilterNode, scope: Scope): boolean {
  switch (node.kind) {
    case 'and': return evaluate(node.left, scope) && evaluate(node.right, scope);
    case 'or': return evaluate(node.left, scope) || evaluate(node.right, scope);
    case 'not': return !evaluate(node.filter, scope);
    case 'present': return scope.values(node.path).some(isNonEmpty);
    case 'valuePath': return scope.elements(node.path).some((el) => evaluate(node.filter, elementScope(el)));
    case 'compare': {
      if (node.op === 'ne') return !evaluate({ ...node, op: 'eq' }, scope);
      if (node.value === null) return !scope.values(node.path).some(isNonEmpty);
      const attr = leafAttr(node.path);
      return scope.values(node.path).some((v) => compareOne(attr, node.op, v, node.value));
    }
  }
}

/**
 * Evaluates a filter against a SCIM resource in its JSON representation: core attributes at
 * the top level, extension attributes under their schema URN, id/meta/groups included.
 */
export function evaluateFilter(node: FilterNode, resource: Record<string, unknown>): boolean {
  return evaluate(node, rootScope(resource));
}

/**
 * Evaluates a value-path filter (the part inside "[…]", whose paths are sub-attributes)
 * against one element of the multi-valued attribute, e.g. one entry of "emails".
 */
export function matchesValueFilter(node: FilterNode, element: unknown): boolean {
  if (node.kind === 'valuePath') return evaluate(node.filter, elementScope(element));
  return evaluate(node, elementScope(element));
}
