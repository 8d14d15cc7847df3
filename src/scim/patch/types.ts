// Types shared by the PATCH engine's modules, derived from the filter module's public API.
import type { parsePatchPath } from '../filter.js';
import type { ResourceTypeDef } from '../schemas.js';
import type { MemberAccumulator } from './members.js';

export type PatchPath = ReturnType<typeof parsePatchPath>;
export type FilterNode = NonNullable<PatchPath['filter']>;
export type PatchOpName = 'add' | 'replace' | 'remove';

/** The working copy one PATCH request mutates; thrown away if any operation fails. */
export interface PatchState {
  rt: ResourceTypeDef;
  doc: Record<string, unknown>;
  members?: MemberAccumulator;
}
