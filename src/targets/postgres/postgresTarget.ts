// The `postgres` connector: the application's membership table, mapped by configuration.
// Plain SQL; identifiers come from the ScimConfig and are quoted, values are parameters.
// Emails are matched as lower(column) collate "C"; an index on
// (organization, (lower(email) collate "C")) keeps paging and lookups index-only.
import type { PostgresTargetSpec } from '../../orgs/scimConfig.js';
import { targetRequestsTotal } from '../../metrics.js';
import { sqlState, type Pool } from '../../store/pool.js';
import { TargetRejectedError, normalizeTeams, type ActualMember, type MemberSpec, type Target } from '../target.js';

export interface PostgresTargetOptions extends PostgresTargetSpec {
  organizationValue: string;
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
const qualified = (name: string) => name.split('.').map(ident).join('.');

/** SQLSTATE classes meaning the mapping is wrong (syntax/undefined object, privileges, data): retrying will not help. */
const REJECTED_CLASSES = ['42', '22', '23'];

type Operation = 'list' | 'get' | 'grant' | 'update' | 'revoke';

export function makePostgresTarget(pool: Pool, opts: PostgresTargetOptions, onClose: () => Promise<void> = async () => {}): Target {
  const c = opts.columns;
  const t = qualified(opts.table);
  const org = ident(c.organization);
  const key = `lower(${ident(c.email)}) collate "C"`;
  const teamsSel = c.teams ? `coalesce(${ident(c.teams)}, '{}')` : `'{}'::text[]`;
  const select = `select ${key} as email, ${ident(c.role)}::text as role, ${teamsSel}::text[] as teams from ${t}`;
  // Series exist from the start (at 0), so the first calls show in rate() and error ratios read 0.
  for (const operation of ['list', 'get', 'grant', 'update', 'revoke']) for (const outcome of ['success', 'client_error', 'server_error']) targetRequestsTotal.inc({ target: 'postgres', operation, outcome }, 0);

  async function run<R extends object>(operation: Operation, sql: string, params: unknown[]): Promise<R[]> {
    try {
      const { rows } = await pool.query<R>(sql, params);
      targetRequestsTotal.inc({ target: 'postgres', operation, outcome: 'success' });
      return rows;
    } catch (err) {
      const state = sqlState(err) ?? '';
      const rejected = REJECTED_CLASSES.includes(state.slice(0, 2));
      targetRequestsTotal.inc({ target: 'postgres', operation, outcome: rejected ? 'client_error' : 'server_error' });
      if (rejected) throw new TargetRejectedError(`postgres target ${opts.table}: ${(err as Error).message} (SQLSTATE ${state})`);
      throw err;
    }
  }

  const toActual = (r: ActualMember): ActualMember => ({ email: r.email, role: r.role, teams: normalizeTeams(r.teams) });

  // Update, else insert: works whether or not the table has a unique key on (organization, email)
  // and whatever case the application stored the email in. Concurrent writers of one member are
  // serialised by the reconciler's per-member lock.
  const columns: [string, (m: MemberSpec) => unknown, string][] = [
    [c.role, (m) => m.role, 'text'],
    ...(c.teams ? [[c.teams, (m: MemberSpec) => m.teams, 'text[]'] as [string, (m: MemberSpec) => unknown, string]] : []),
    ...(c.displayName ? [[c.displayName, (m: MemberSpec) => m.displayName, 'text'] as [string, (m: MemberSpec) => unknown, string]] : []),
    ...(c.externalId ? [[c.externalId, (m: MemberSpec) => m.externalId, 'text'] as [string, (m: MemberSpec) => unknown, string]] : []),
  ];
  const sets = columns.map(([col, , type], i) => `${ident(col)} = $${i + 3}::${type}`).join(', ');
  const upsertSql = `with updated as (
      update ${t} set ${sets} where ${org} = $1::text and ${key} = $2::text returning 1
    )
    insert into ${t} (${org}, ${ident(c.email)}, ${columns.map(([col]) => ident(col)).join(', ')})
    select $1::text, $2::text, ${columns.map(([, , type], i) => `$${i + 3}::${type}`).join(', ')}
     where not exists (select 1 from updated)`;
  const upsert = (operation: 'grant' | 'update') => async (m: MemberSpec) => {
    await run(operation, upsertSql, [opts.organizationValue, m.email, ...columns.map(([, get]) => get(m))]);
  };

  return {
    kind: 'postgres',
    supportsTeams: c.teams !== null,
    async *list() {
      let cursor = '';
      for (;;) {
        const rows = await run<ActualMember>(
          'list',
          `${select} where ${org} = $1::text and ${key} > $2::text order by ${key} limit $3::int`,
          [opts.organizationValue, cursor, opts.pageSize],
        );
        yield rows.map(toActual);
        if (rows.length < opts.pageSize) return;
        cursor = rows[rows.length - 1].email;
      }
    },
    async get(email) {
      const rows = await run<ActualMember>('get', `${select} where ${org} = $1::text and ${key} = $2::text limit 1`, [opts.organizationValue, email]);
      return rows[0] ? toActual(rows[0]) : undefined;
    },
    grant: upsert('grant'),
    update: upsert('update'),
    async revoke(email) {
      await run('revoke', `delete from ${t} where ${org} = $1::text and ${key} = $2::text`, [opts.organizationValue, email]);
    },
    close: onClose,
  };
}
