// Each test file gets its own database, cloned from the migrated template (fast: a file copy).
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import pg from 'pg';
import { makePool, type Pool } from '../../src/store/pool.js';

export interface TestDatabase {
  url: string;
  name: string;
  pool: Pool;
  drop(): Promise<void>;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('adminUrl');
  const name = `scimsync_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name} template ${inject('templateDb')}`);
  await admin.end();
  const url = withDatabase(adminUrl, name);
  const pool = makePool(url, 20);
  return {
    url,
    name,
    pool,
    async drop() {
      await pool.end();
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/**
 * How many memberships name a User that is deleted (tombstoned) or a Group that no longer
 * exists — 0 when referential integrity holds.
 */
export async function danglingMembers(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `select count(*) as n from scim_group_members m
      left join scim_users u on m.member_type = 'User' and u.id = m.member_id and u.deleted_at is null
      left join scim_groups g on m.member_type = 'Group' and g.id = m.member_id
      where u.id is null and g.id is null`,
  );
  return Number(rows[0]!.n);
}
