import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

describe('test database', () => {
  let db: TestDatabase;
  beforeAll(async () => { db = await createTestDatabase(); });
  afterAll(async () => { await db.drop(); });
  it('is migrated', async () => {
    const { rows } = await db.pool.query(`select to_regclass('scim_users') as t`);
    expect(rows[0].t).toBe('scim_users');
  });
});
