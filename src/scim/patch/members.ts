// Group membership changes. Members are not part of the stored Group document (they live in
// their own table), so PATCH operations on "members" fold into one MemberChanges, in order:
// a member added then removed in the same request ends up removed, and vice versa (Okta's
// group push sends a remove-by-filter and an add in one PATCH; test/patch.test.ts "Okta: …").
import { badRequest } from '../errors.js';
import { type MemberRef, toMemberRefs } from '../resource.js';
import type { FilterNode, MemberAccumulator, MemberChanges, PatchOpName, PatchState } from './types.js';
import type { AttributeDef } from '../schemas.js';

export type { MemberAccumulator, MemberChanges } from './types.js';

export const emptyMemberChanges = (): MemberAccumulator => ({ mode: 'delta', add: new Map(), remove: new Set() });

export const hasMemberChanges = (c: MemberChanges | undefined): boolean =>
  !!c && (c.replaceAll !== undefined || !!c.removeAll || c.add.length > 0 || c.remove.length > 0);

/** The accumulated changes in the shape the store applies. */
export function toMemberChanges(c: MemberAccumulator): MemberChanges {
  const refs = [...c.add.values()];
  if (c.mode === 'replaceAll') return { replaceAll: refs, add: [], remove: [] };
  if (c.mode === 'removeAll') return { removeAll: true, add: refs, remove: [] };
  return { add: refs, remove: [...c.remove] };
}

export function addMembers(c: MemberAccumulator, refs: MemberRef[]): void {
  for (const ref of refs) {
    c.remove.delete(ref.value);
    if (!c.add.has(ref.value)) c.add.set(ref.value, ref);
  }
}

export function removeMembers(c: MemberAccumulator, ids: string[]): void {
  for (const id of ids) {
    c.add.delete(id);
    if (c.mode === 'delta') c.remove.add(id);
  }
}

export function removeAllMembers(c: MemberAccumulator): void {
  c.mode = 'removeAll';
  c.add = new Map();
  c.remove = new Set();
}

export function replaceAllMembers(c: MemberAccumulator, refs: MemberRef[]): void {
  c.mode = 'replaceAll';
  c.add = new Map();
  c.remove = new Set();
  for (const ref of refs) if (!c.add.has(ref.value)) c.add.set(ref.value, ref);
}

/**
 * The member ids a filter such as `value eq "a" or value eq "b"` names. Only that shape can be
 * resolved without reading the membership table; anything else is refused rather than guessed.
 */
export function memberIdsFromFilter(node: FilterNode): string[] {
  if (node.kind === 'or') return [...memberIdsFromFilter(node.left), ...memberIdsFromFilter(node.right)];
  if (node.kind === 'compare' && node.op === 'eq' && (node.path.sub ?? node.path.attribute).name === 'value') {
    if (typeof node.value === 'string' || typeof node.value === 'number') return [String(node.value)];
  }
  throw badRequest('invalidFilter', 'A members filter must be of the form value eq "id" [or value eq "id" …]');
}

/** The value of a remove on "members": Entra names members to drop as [{value}]; none means all. */
export function removeMembersByValue(c: MemberAccumulator, value: unknown): void {
  if (value === undefined || value === null) removeAllMembers(c);
  else removeMembers(c, toMemberRefs(value).map((m) => m.value));
}

/**
 * One operation whose path is "members" (or a pathless {"members": …}). Member sub-attributes
 * are immutable (RFC 7643 §4.2), so only whole members can be added, replaced or removed.
 */
export function applyMembersOp(
  state: PatchState,
  op: PatchOpName,
  filter: FilterNode | undefined,
  sub: AttributeDef | undefined,
  value: unknown,
): void {
  const c = (state.members ??= emptyMemberChanges());
  if (sub || (filter && op !== 'remove')) {
    throw badRequest('mutability', 'Group members can only be added, replaced or removed as a whole');
  }
  // RFC 7644 §3.5.2.2: remove members[value eq "id"]. A member that is not there is not an
  // error: the engine cannot see the membership table and IdPs retry removals.
  if (filter) removeMembers(c, memberIdsFromFilter(filter));
  else if (op === 'add') addMembers(c, toMemberRefs(value));
  else if (op === 'replace') replaceAllMembers(c, toMemberRefs(value));
  else removeMembersByValue(c, value);
}
