// The limit: node-postgres, a Pool of 16 and N concurrent loops, each running the bare SQL
// a scenario needs, in a users-like table on the same Postgres. No HTTP, no JSON, no auth.
import pg from 'pg';

export const LIMIT_SCHEMA = `
create table limit_users (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null,
  user_name text not null,
  resource jsonb not null,
  created_at timestamptz not null default clock_timestamp()
);
create unique index limit_users_user_name_idx on limit_users (organization_id, lower(user_name));
create index limit_users_list_idx on limit_users (organization_id, created_at, id);
create table limit_members (
  group_id uuid not null,
  member_id uuid not null,
  primary key (group_id, member_id)
);`;

/**
 * @param {string} url
 * @returns {pg.Pool}
 */
export function makeLimitPool(url) {
  const pool = new pg.Pool({ connectionString: url, max: 16 });
  pool.on('error', () => {});
  return pool;
}

/**
 * `loops` concurrent loops run `step(pool, n)` (n: a global request number) until `amount`
 * steps are done or `duration` seconds pass. Returns steps per second.
 * @param {pg.Pool} pool
 * @param {{ loops?: number, amount?: number, duration?: number, step: (pool: pg.Pool, n: number) => Promise<unknown> }} options
 * @returns {Promise<{ rps: number, ok: number, errors: number, seconds: number }>}
 */
export async function limitLoop(pool, { loops = 16, amount, duration = 5, step }) {
  let n = 0;
  let ok = 0;
  let errors = 0;
  const started = performance.now();
  const until = started + (amount ? 120_000 : duration * 1000);
  const worker = async () => {
    while (performance.now() < until && (!amount || n < amount)) {
      const i = n++;
      try {
        await step(pool, i);
        ok++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: loops }, worker));
  const seconds = (performance.now() - started) / 1000;
  return { rps: ok / seconds, ok, errors, seconds };
}
