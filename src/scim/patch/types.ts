// Types shared by the PATCH engine's modules, derived from the filter module's public API.
import type { parsePatchPath } from '../filter.js';
import type { ResourceTypeDef } from '../schemas.js';
import type { MemberRef } from '../resource.js';

export type PatchPath = ReturnType<typeof parsePatchPath>;
export type FilterNode = NonNullable<PatchPath['filter']>;
export type PatchOpName = 'add' | 'replace' | 'remove';

/**
 * What the store does, touching only the rows named. Invariants: at most one of replaceAll /
 * removeAll is set; when either is, `remove` is empty; when replaceAll is set, `add` is empty.
 *   replaceAll: the membership becomes exactly this list.
 *   removeAll:  delete every member, then insert `add`.
 *   otherwise:  delete `remove`, then insert `add` (skipping existing rows).
 */
export interface MemberChanges {
  replaceAll?: MemberRef[];
  add: MemberRef[];
  remove: string[];
  removeAll?: boolean;
}

/**
 * The changes as operations accumulate them, indexed by member id so each operation costs its
 * own size, not the size of what earlier operations added (a PATCH of 20,000 member adds was
 * quadratic with arrays). Map keeps insertion order; a re-added id moves to the end, as the
 * array version did.
 */
export interface MemberAccumulator {
  mode: 'delta' | 'replaceAll' | 'removeAll';
  /** delta and removeAll: members to insert; replaceAll: the whole new membership. */
  add: Map<string, MemberRef>;
  /** delta only: ids to delete. */
  remove: Set<string>;
}

/** The working copy one PATCH request mutates; thrown away if any operation fails. */
export interface PatchState {
  rt: ResourceTypeDef;
  doc: Record<string, unknown>;
  members?: MemberAccumulator;
}
