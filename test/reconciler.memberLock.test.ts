// The member lock (src/store/memberLocks.ts): a per-user pass takes one member's lock with
// withMemberLock, a batch takes many with withMembersLock; both build the key from
// memberLockKeySql. These tests take the two against each other on real Postgres: each must
// wait for the other on the same member, and neither for the other on a different member or
// organization — if the two keys ever drifted apart, the first case would fail.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memberLockKeySql, withMemberLock, withMembersLock } from '../src/store/memberLocks.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

/** Holds `first` until released; reports whether `second` entered while `first` was held. */
async function contend(first: (inside: () => Promise<void>) => Promise<void>, second: () => Promise<void>): Promise<boolean> {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const inFirst = new Promise<void>((r) => (entered = r));
  const a = first(async () => {
    entered();
    await held;
  });
  await inFirst;
  let secondIn = false;
  const b = second().then(() => {
    secondIn = true;
  });
  // Long enough for an uncontended lock statement to return many times over.
  await new Promise((r) => setTimeout(r, 300));
  const enteredWhileHeld = secondIn;
  release();
  await Promise.all([a, b]);
  return enteredWhileHeld;
}

const org = randomUUID();
const other = randomUUID();
const one = (o: string, email: string) => (inside: () => Promise<void>) => withMemberLock(db.pool, o, email, inside);
const many = (o: string, emails: string[]) => (inside: () => Promise<void>) => withMembersLock(db.pool, o, emails, inside);
const noop = async () => {};

describe('member lock: one key for per-user and batch passes', () => {
  it('a batch waits for a per-user pass holding one of its members', async () => {
    expect(await contend(one(org, 'a@x.io'), () => many(org, ['b@x.io', 'a@x.io'])(noop))).toBe(false);
  });

  it('a per-user pass waits for a batch holding its member', async () => {
    expect(await contend(many(org, ['a@x.io', 'c@x.io']), () => one(org, 'c@x.io')(noop))).toBe(false);
  });

  it('other members and other organizations do not wait', async () => {
    expect(await contend(one(org, 'a@x.io'), () => many(org, ['b@x.io'])(noop))).toBe(true);
    expect(await contend(many(org, ['a@x.io']), () => one(other, 'a@x.io')(noop))).toBe(true);
  });

  it('the key is the documented hash of scimsync:<organization>:<email>', async () => {
    const { rows } = await db.pool.query<{ key: string; expected: string }>(
      `select ${memberLockKeySql('$1', '$2::text')}::text as key, hashtextextended($3::text, 0)::text as expected`,
      [org, 'a@x.io', `scimsync:${org}:a@x.io`],
    );
    expect(rows[0].key).toBe(rows[0].expected);
  });
});
