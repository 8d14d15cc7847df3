// One lock order for writes that touch groups and their members: group rows first (in id
// order), then member rows. A group write (groupWriter.ts batch) locks its group row, then
// share-locks the Users and Groups it adds (insertMembers); a deletion of a User or Group
// must therefore lock the groups it belongs to before its own row, or the two wait for each
// other until Postgres' deadlock_timeout (1 s) aborts one (issue 10: answered 500).
import type { PoolClient } from './pool.js';

/**
 * Locks (FOR UPDATE, in id order) the groups that list `memberId` as a member. Call before
 * locking the member's own row. Groups that add the member after this read take the member's
 * row lock first and are handled by insertMembers' locked re-check.
 */
export async function lockGroupsContaining(client: PoolClient, memberId: string): Promise<void> {
  await client.query(
    `select g.id from scim_groups g
      where g.id in (select m.group_id from scim_group_members m where m.member_id = $1::uuid)
      order by g.id for update`,
    [memberId],
  );
}
