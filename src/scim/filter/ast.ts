// The filter AST (RFC 7644 §3.4.2.2). Paths are canonical AttrPaths (resolved once, at parse
// time), so the SQL translation and the in-memory evaluator never look at raw attribute names.
import type { AttrPath } from '../paths.js';
import type { AttributeDef } from '../schemas.js';

export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';
export type FilterValue = string | number | boolean | null;

export type FilterNode =
  | { kind: 'compare'; path: AttrPath; op: CompareOp; value: FilterValue }
  | { kind: 'present'; path: AttrPath }
  | { kind: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { kind: 'not'; filter: FilterNode }
  /** path is the complex attribute; paths inside filter are its sub-attributes (.sub set). */
  | { kind: 'valuePath'; path: AttrPath; filter: FilterNode };

/** A PATCH operation path (RFC 7644 §3.5.2: PATH = attrPath / valuePath [subAttr]). */
export interface PatchPath {
  /** Set when the path is a bare extension schema URN: the whole extension object. */
  extensionUrn?: string;
  path?: AttrPath;
  /** The value filter from "[…]". */
  filter?: FilterNode;
  /** The sub-attribute after "]", as in emails[type eq "work"].value. */
  subAttr?: AttributeDef;
}

export const COMPARE_OPS: readonly CompareOp[] = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'];

/** The attribute a leaf compares: the sub-attribute when there is one. */
export const leafAttr = (p: AttrPath): AttributeDef => p.sub ?? p.attribute;

/**
 * True when no two live resources can match `filter`: it requires equality of a string with
 * a top-level attribute whose uniqueness is "server" or "global" (RFC 7643 §2.1; for Users
 * `id` and `userName`, which the store backs with unique indexes, userName case-insensitively
 * as its caseExact false asks), alone or as one side of an `and`. Lets a list request that
 * looks one resource up (the `userName eq "…"` every IdP sends before a POST) be served by one
 * query instead of a key query and a row query.
 */
export function matchesAtMostOne(filter: FilterNode): boolean {
  if (filter.kind === 'and') return matchesAtMostOne(filter.left) || matchesAtMostOne(filter.right);
  if (filter.kind !== 'compare' || filter.op !== 'eq' || typeof filter.value !== 'string') return false;
  const p = filter.path;
  return !p.sub && !p.extension && (p.attribute.uniqueness === 'server' || p.attribute.uniqueness === 'global');
}
