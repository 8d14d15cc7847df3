// The postgres connector against real tables in the test database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresTargetSpec } from '../src/orgs/scimConfig.js';
import { makePostgresTarget } from '../src/targets/postgres/postgresTarget.js';
import { TargetRejectedError, type Target } from '../src/targets/target.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query(`create schema app`);
  await db.pool.query(`create table app."Members" (tenant text not null, mail text not null, access_level text not null, name text)`);
});
afterAll(() => db.drop());

const member = (email: string, role = 'member', teams: string[] = []) => ({ email, role, teams, displayName: 'N', externalId: 'E' });
const key = { idempotencyKey: 'k' };
async function all(t: Target) {
  const out = [];
  for await (const page of t.list()) out.push(...page);
  return out;
}

describe('postgres target', () => {
  it('the reference table: upsert, update, list in pages, revoke, all idempotent', async () => {
    const t = makePostgresTarget(db.pool, { ...postgresTargetSpec.parse({ pageSize: 2 }), organizationValue: 'demo' });
    expect(t.supportsTeams).toBe(true);
    for (const e of ['c@x', 'a@x', 'b@x']) await t.grant(member(e, 'member', ['t2', 't1']), key);
    await t.grant(member('a@x'), key);
    await t.update(member('b@x', 'admin', ['t1']), key);
    expect(await all(t)).toEqual([
      { email: 'a@x', role: 'member', teams: [] },
      { email: 'b@x', role: 'admin', teams: ['t1'] },
      { email: 'c@x', role: 'member', teams: ['t1', 't2'] },
    ]);
    const other = makePostgresTarget(db.pool, { ...postgresTargetSpec.parse({}), organizationValue: 'other' });
    expect(await all(other)).toEqual([]);
    await t.revoke('a@x', key);
    await t.revoke('a@x', key);
    expect(await t.get('a@x')).toBeUndefined();
    expect(await t.get('c@x')).toEqual({ email: 'c@x', role: 'member', teams: ['t1', 't2'] });
    const { rows } = await db.pool.query(`select count(*)::int as n from app_memberships where organization = 'demo'`);
    expect(rows[0].n).toBe(2);
  });

  it('a mapped application table without teams, matching stored emails case-insensitively', async () => {
    const spec = postgresTargetSpec.parse({
      table: 'app.Members',
      columns: { organization: 'tenant', email: 'mail', role: 'access_level', teams: null, displayName: 'name' },
    });
    const t = makePostgresTarget(db.pool, { ...spec, organizationValue: 'acme' });
    expect(t.supportsTeams).toBe(false);
    await db.pool.query(`insert into app."Members" values ('acme', 'Bob@X', 'viewer', null)`);
    expect(await t.get('bob@x')).toEqual({ email: 'bob@x', role: 'viewer', teams: [] });
    await t.update(member('bob@x', 'editor'), key);
    await t.grant(member('amy@x', 'viewer'), key);
    const { rows } = await db.pool.query(`select tenant, mail, access_level as role, name from app."Members" order by mail`);
    expect(rows).toEqual([
      { tenant: 'acme', mail: 'Bob@X', role: 'editor', name: 'N' },
      { tenant: 'acme', mail: 'amy@x', role: 'viewer', name: 'N' },
    ]);
    expect((await all(t)).map((m) => m.email)).toEqual(['amy@x', 'bob@x']);
    await t.revoke('bob@x', key);
    expect((await all(t)).map((m) => m.email)).toEqual(['amy@x']);
  });

  it('a wrong mapping is rejected (not retried)', async () => {
    const t = makePostgresTarget(db.pool, { ...postgresTargetSpec.parse({ table: 'nope' }), organizationValue: 'acme' });
    await expect(t.get('a@x')).rejects.toBeInstanceOf(TargetRejectedError);
  });
});
