// Type rules for a comparison (RFC 7644 §3.4.2.2) and the leniency IdPs need: the operand is
// checked against the attribute's type once, at parse time, so that the SQL translation and
// the evaluator only ever see values of the attribute's type.
import { badRequest } from '../errors.js';
import { type AttrPath, findAttr, formatPath } from '../paths.js';
import { type CompareOp, type FilterNode, type FilterValue, leafAttr } from './ast.js';
import { normalizeDateTime } from './dateTime.js';

/** A comparison value as written: quoted JSON string, or a bare word/literal. */
export interface ValueToken {
  value: FilterValue;
  quoted: boolean;
  raw: string;
  start: number;
}

const ORDERING: ReadonlySet<CompareOp> = new Set(['gt', 'ge', 'lt', 'le']);
const SUBSTRING: ReadonlySet<CompareOp> = new Set(['co', 'sw', 'ew']);
const STRINGISH = new Set(['string', 'reference', 'binary']);

const invalid = (detail: string) => badRequest('invalidFilter', detail);

/**
 * "emails eq x" on a complex attribute means its "value" sub-attribute (RFC 7644 §3.4.2.2:
 * multi-valued attributes are compared through their value); a complex attribute without
 * one (name, addresses) cannot be compared at all.
 */
export function comparablePath(path: AttrPath, at: number): AttrPath {
  if (path.sub || path.attribute.type !== 'complex') return path;
  const value = findAttr(path.attribute.subAttributes, 'value');
  if (!value) {
    throw invalid(`'${formatPath(path)}' at position ${at} is a complex attribute: compare one of its sub-attributes`);
  }
  return { ...path, sub: value };
}

function coerceValue(path: AttrPath, tok: ValueToken): FilterValue {
  const attr = leafAttr(path);
  const label = `'${formatPath(path)}'`;
  const v = tok.value;
  const wrong = (want: string) =>
    invalid(`${label} is of type ${attr.type}: expected ${want}, got ${tok.raw} at position ${tok.start}`);
  if (v === null) return null;
  switch (attr.type) {
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
      throw wrong('true or false');
    case 'integer':
    case 'decimal': {
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      if (typeof n === 'number' && Number.isFinite(n)) return n;
      throw wrong('a number');
    }
    case 'dateTime': {
      // Unquoted dates are a Microsoft conformance quirk: meta.created gt 2015-10-10T14:38:21.8617979-07:00
      const normalized = typeof v === 'string' ? normalizeDateTime(v) : undefined;
      if (normalized === undefined) throw wrong('an xsd:dateTime such as "2015-10-10T14:38:21Z"');
      return normalized;
    }
    default:
      // A bare 123 or true compared with a string attribute is the text the client wrote.
      return typeof v === 'string' ? v : tok.raw;
  }
}

/** Builds a compare node, enforcing which operators each attribute type admits. */
export function makeCompare(raw: AttrPath, op: CompareOp, tok: ValueToken, at: number): FilterNode {
  const path = comparablePath(raw, at);
  const attr = leafAttr(path);
  const label = `'${formatPath(path)}'`;
  // RFC 7644 §3.4.2.2: gt/ge/lt/le on a Boolean or Binary attribute is a 400 invalidFilter.
  if (ORDERING.has(op) && (attr.type === 'boolean' || attr.type === 'binary')) {
    throw invalid(`operator '${op}' at position ${at} cannot be applied to ${attr.type} attribute ${label}`);
  }
  if (SUBSTRING.has(op) && !STRINGISH.has(attr.type)) {
    throw invalid(`operator '${op}' at position ${at} needs a string attribute, ${label} is of type ${attr.type}`);
  }
  // Postgres text cannot hold U+0000, so no stored value can match it: refuse it up front.
  if (typeof tok.value === 'string' && tok.value.includes('\u0000')) {
    throw invalid(`the value at position ${tok.start} contains a NUL character`);
  }
  if (tok.value === null && op !== 'eq' && op !== 'ne') {
    throw invalid(`null at position ${tok.start} can only be compared with eq or ne`);
  }
  return { kind: 'compare', path, op, value: coerceValue(path, tok) };
}
