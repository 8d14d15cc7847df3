// Per-member advisory locks: one operation at a time per member, so a per-user pass and a full
// pass (or two replicas) never write the same member concurrently. Transaction-scoped: taken
// in a transaction of their own and released at commit or rollback.
import { withTransaction, type Pool, type PoolClient } from './pool.js';

/**
 * The advisory-lock key of one member, as SQL over an organization id and an email (both SQL
 * expressions): hashtextextended('scimsync:<organization id>:<email>', 0), a bigint. The one
 * definition both lock statements below use — if the per-user and the batch key ever
 * differed, a per-user pass and a full pass would stop excluding each other
 * (test/reconciler.memberLock.test.ts takes them against each other on real Postgres).
 */
export const memberLockKeySql = (organizationId: string, email: string): string =>
  `hashtextextended('scimsync:' || ${organizationId}::text || ':' || ${email}, 0)`;

/** Runs fn in a transaction holding the member's advisory lock (released at commit/rollback). */
export async function withMemberLock<T>(pool: Pool, organizationId: string, email: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (client) => {
    await client.query({ name: 'scimsync-member-lock', text: `select pg_advisory_xact_lock(${memberLockKeySql('$1', '$2::text')})`, values: [organizationId, email] });
    return fn(client);
  });
}

/**
 * Runs fn in one transaction holding the advisory locks of all the emails (the keys of
 * withMemberLock), taken in one statement in sorted order so two batches never deadlock.
 */
export async function withMembersLock<T>(pool: Pool, organizationId: string, emails: string[], fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (client) => {
    await client.query({
      name: 'scimsync-members-lock',
      text: `select count(pg_advisory_xact_lock(${memberLockKeySql('$1', 's.email')}))
               from (select distinct email from unnest($2::text[]) as e(email) order by email) s`,
      values: [organizationId, emails],
    });
    return fn(client);
  });
}
