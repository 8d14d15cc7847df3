// Organization lifecycle with the local ScimConfig files (issue 7, item 7): removing an
// organization from the --config files is "Delete Configuration": at the next start its tokens
// are revoked, its SCIM endpoint answers 401 and the reconciler stops provisioning it;
// `scimsync org delete` does the same on a running system. Real child processes of the built
// CLI against a real Postgres database per describe block.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { scheduleResyncs } from '../src/store/reconcileQueue.js';
import { freePort } from '../src/store/embedded.js';
import { claimOrganization, deleteOrganization, findOrganization } from '../src/store/orgs.js';
import { createToken, OrganizationDeletedError } from '../src/store/tokens.js';
import { cliEnv, killAllCli, logLines, runCli, sleep, startCli, TOKEN_PATTERN, waitForOk, type CliProcess } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

const scimConfig = (org: string) => `apiVersion: scimsync.io/v1alpha1
kind: ScimConfig
metadata: { name: ${org} }
spec:
  organization: ${org}
`;

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'scimsync-orgs-'));
});
afterAll(async () => {
  await killAllCli();
  await rm(tmp, { recursive: true, force: true });
});

/** One database; `scimsync start` started and stopped on it as often as a test needs. */
function harness(settings: Record<string, string> = {}) {
  let db: TestDatabase;
  let port: number;
  let env: NodeJS.ProcessEnv;
  let server: CliProcess | undefined;
  const h = {
    get db() {
      return db;
    },
    get env() {
      return env;
    },
    get base() {
      return `http://127.0.0.1:${port}`;
    },
    /** Writes the config file with these organizations (one file, several documents). */
    async writeConfig(name: string, orgs: string[]): Promise<string> {
      const file = path.join(tmp, name);
      await writeFile(file, orgs.map(scimConfig).join('---\n'));
      return file;
    },
    async start(args: string[]): Promise<CliProcess> {
      await h.stop();
      server = startCli(['start', ...args], env);
      await waitForOk(`${h.base}/readyz`, server);
      return server;
    },
    async stop(): Promise<void> {
      if (!server) return;
      server.child.kill('SIGTERM');
      expect(await server.exited, server.stderr).toEqual({ code: 0, signal: null });
      server = undefined;
    },
    async token(org: string): Promise<string> {
      const r = await runCli(['token', 'create', org], env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toMatch(TOKEN_PATTERN);
      return r.stdout.trim();
    },
    async users(org: string, token: string): Promise<number> {
      const res = await fetch(`${h.base}/scim/v2/${org}/Users`, { headers: { authorization: `Bearer ${token}` } });
      await res.body?.cancel();
      return res.status;
    },
  };
  beforeAll(async () => {
    db = await createTestDatabase();
    port = await freePort();
    env = cliEnv({ DATABASE_URL: db.url, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', RECONCILER_POLL_MS: '100', ...settings });
  });
  afterAll(async () => {
    await killAllCli();
    await db?.drop();
  });
  return h;
}

describe('an organization removed from the --config files (Delete Configuration at start)', () => {
  const h = harness({ RECONCILER_ENABLED: 'false' });
  afterEach(() => h.stop());

  it('at the next start has every token revoked, answers 401, is logged, and gets no new token; the others keep serving', async () => {
    const file = await h.writeConfig('two.yaml', ['acme', 'globex']);
    await h.start(['--config', file]);
    const [acme, globex, globex2] = [await h.token('acme'), await h.token('globex'), await h.token('globex')];
    expect(await h.users('globex', globex)).toBe(200);

    await h.writeConfig('two.yaml', ['acme']);
    const server = await h.start(['--config', file]);
    expect(await h.users('globex', globex)).toBe(401);
    expect(await h.users('globex', globex2)).toBe(401);
    expect(await h.users('acme', acme)).toBe(200);
    const deleted = logLines(server.stderr).filter((l) => l.msg === 'organization deleted: no longer declared');
    expect(deleted).toEqual([expect.objectContaining({ organization: 'globex', tokensRevoked: 2, level: 40 })]);
    expect(server.stderr).not.toContain('token create globex');

    const refused = await runCli(['token', 'create', 'globex'], h.env);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/organization "globex" was deleted at .*: it gets no new tokens; declare it again/);
    const { rows } = await h.db.pool.query(`select 1 from scim_tokens t join organizations o on o.id = t.organization_id where o.slug = 'globex' and t.revoked_at is null`);
    expect(rows).toHaveLength(0);

    const list = await runCli(['org', 'list'], h.env);
    expect(list.code, list.stderr).toBe(0);
    const line = (org: string) => list.stdout.split('\n').find((l) => l.startsWith(`${org}\t`))!.split('\t');
    expect(line('acme')).toEqual(['acme', `file:${file}`, '-', '1']);
    expect(line('globex')[1]).toBe(`file:${file}`);
    expect(line('globex')[2]).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(line('globex')[3]).toBe('0');

    // A second start without globex deletes nothing more and logs nothing.
    const again = await h.start(['--config', file]);
    expect(logLines(again.stderr).filter((l) => String(l.msg).startsWith('organization deleted'))).toEqual([]);
  });

  it('declared again, it serves with new tokens; its old tokens stay revoked', async () => {
    const file = await h.writeConfig('back.yaml', ['initech', 'hooli']);
    await h.start(['--config', file]);
    const old = await h.token('hooli');
    await h.writeConfig('back.yaml', ['initech']);
    await h.start(['--config', file]);
    await h.writeConfig('back.yaml', ['initech', 'hooli']);
    const server = await h.start(['--config', file]);
    expect(logLines(server.stderr)).toContainEqual(expect.objectContaining({ msg: 'organization restored', organization: 'hooli' }));
    expect((await findOrganization(h.db.pool, 'hooli'))!.deletedAt).toBeNull();
    expect(await h.users('hooli', old)).toBe(401);
    expect(await h.users('hooli', await h.token('hooli'))).toBe(200);
  });

  it('the demo organization of a start without --config is deleted by a later start with --config that does not declare it', async () => {
    await h.start([]);
    const demo = await h.token('demo');
    expect(await h.users('demo', demo)).toBe(200);
    const file = await h.writeConfig('prod.yaml', ['umbrella']);
    const server = await h.start(['--config', file]);
    expect(await h.users('demo', demo)).toBe(401);
    expect(logLines(server.stderr)).toContainEqual(expect.objectContaining({ msg: 'organization deleted: no longer declared', organization: 'demo', tokensRevoked: 1 }));
  });

  it('org delete demo: the hints say a start without --config restores it, and it does (old tokens stay revoked)', async () => {
    await h.start([]);
    const old = await h.token('demo');
    const del = await runCli(['org', 'delete', 'demo'], h.env);
    expect(del.code, del.stderr).toBe(0);
    expect(del.stderr).toContain('a `scimsync start` without --config declares "demo" again and restores it');
    const refused = await runCli(['token', 'create', 'demo'], h.env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/organization "demo" was deleted at .*: it gets no new tokens; declare it again \(scimsync start --config …\) or restart without --config/);
    await h.start([]);
    expect((await findOrganization(h.db.pool, 'demo'))!.deletedAt).toBeNull();
    expect(await h.users('demo', old)).toBe(401);
    expect(await h.users('demo', await h.token('demo'))).toBe(200);
  });

  it('a start without --config deletes nothing: it declares only demo (the quick start)', async () => {
    const file = await h.writeConfig('keep.yaml', ['wayne']);
    await h.start(['--config', file]);
    const wayne = await h.token('wayne');
    const server = await h.start([]);
    expect(await h.users('wayne', wayne)).toBe(200);
    expect(logLines(server.stderr).filter((l) => String(l.msg).startsWith('organization deleted'))).toEqual([]);
    expect((await findOrganization(h.db.pool, 'demo'))!.deletedAt).toBeNull();
  });

  it('an organization a Kubernetes ScimConfig owns, declared in a file too, stops start naming the owner, and nothing is written', async () => {
    await claimOrganization(h.db.pool, { organization: 'cyberdyne' }, { kind: 'kubernetes', ref: 'team-a/cyberdyne', uid: '3f1c1d9e-0000-4000-8000-000000000001' });
    const file = await h.writeConfig('conflict.yaml', ['cyberdyne', 'tyrell']);
    const r = await runCli(['start', '--config', file], h.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('organization "cyberdyne" is declared by the Kubernetes ScimConfig team-a/cyberdyne');
    expect(r.stderr).toContain('nothing was changed');
    expect(await findOrganization(h.db.pool, 'tyrell')).toBeUndefined();
    const cyberdyne = await findOrganization(h.db.pool, 'cyberdyne');
    expect(cyberdyne!.owner).toEqual({ kind: 'kubernetes', ref: 'team-a/cyberdyne', uid: '3f1c1d9e-0000-4000-8000-000000000001' });
    expect(cyberdyne!.deletedAt).toBeNull();

    // Nor does `org delete` take it away from the operator.
    const del = await runCli(['org', 'delete', 'cyberdyne'], h.env);
    expect(del.code).toBe(1);
    expect(del.stderr).toContain('declared by the Kubernetes ScimConfig team-a/cyberdyne');
    expect((await findOrganization(h.db.pool, 'cyberdyne'))!.deletedAt).toBeNull();
  });
});

describe('scimsync org delete on a running system', () => {
  const h = harness();
  afterEach(() => h.stop());

  /** A user as an in-flight SCIM write leaves it: the row and its queue item in one transaction. */
  async function writeUser(org: string, email: string): Promise<void> {
    await h.db.pool.query(
      `with u as (
         insert into scim_users (organization_id, user_name, resource)
         select id, $2::text, jsonb_build_object('userName', $2::text) from organizations where slug = $1::text
         returning id, organization_id
       )
       insert into reconcile_queue (organization_id, user_id) select organization_id, id from u`,
      [org, email],
    );
  }

  async function granted(org: string): Promise<string[]> {
    const { rows } = await h.db.pool.query<{ email: string }>(`select email from app_memberships where organization = $1::text order by email`, [org]);
    return rows.map((r) => r.email);
  }

  async function waitForGrant(org: string, email: string): Promise<void> {
    for (let i = 0; i < 200 && !(await granted(org)).includes(email); i++) await sleep(50);
    expect(await granted(org)).toContain(email);
  }

  it('revokes every token at once, says what it did, logs it, and the reconciler no longer provisions the organization', async () => {
    const file = await h.writeConfig('running.yaml', ['stark', 'oscorp']);
    await h.start(['--config', file]);
    const [stark, oscorp, oscorp2] = [await h.token('stark'), await h.token('oscorp'), await h.token('oscorp')];
    expect(await h.users('oscorp', oscorp)).toBe(200);
    await writeUser('oscorp', 'before@oscorp.example');
    await waitForGrant('oscorp', 'before@oscorp.example');

    // Queued work of the organization is dropped with it.
    await h.db.pool.query(`insert into reconcile_queue (organization_id, user_id, run_at) select id, gen_random_uuid(), now() + interval '1 hour' from organizations where slug = 'oscorp'`);
    const r = await runCli(['org', 'delete', 'oscorp'], h.env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('organization "oscorp" deleted: 2 token(s) revoked, 1 queued reconcile item(s) dropped');
    expect(r.stderr).toContain(`remove it from ${file} too`);
    expect(logLines(r.stderr)).toContainEqual(
      expect.objectContaining({ msg: 'organization deleted', organization: 'oscorp', actor: 'scimsync org delete', tokensRevoked: 2, queueItemsDropped: 1 }),
    );
    expect(await h.users('oscorp', oscorp)).toBe(401);
    expect(await h.users('oscorp', oscorp2)).toBe(401);
    expect(await h.users('stark', stark)).toBe(200);

    // A write that was in flight when the organization was deleted is not provisioned; the
    // same write to a live organization is (so the reconciler is running).
    await writeUser('oscorp', 'after@oscorp.example');
    await writeUser('stark', 'after@stark.example');
    await waitForGrant('stark', 'after@stark.example');
    await sleep(300);
    expect(await granted('oscorp')).toEqual(['before@oscorp.example']); // left as it was: deletion revokes no access in the application

    // No full resync is scheduled for it either.
    await h.db.pool.query(`update reconcile_status set next_resync_at = now() - interval '1 minute'`);
    await scheduleResyncs(h.db.pool);
    const { rows } = await h.db.pool.query<{ slug: string }>(
      `select o.slug from reconcile_queue q join organizations o on o.id = q.organization_id where q.user_id is null and q.resync`,
    );
    expect(rows.map((x) => x.slug)).not.toContain('oscorp');

    const again = await runCli(['org', 'delete', 'oscorp'], h.env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/organization "oscorp" was already deleted at .*; 0 token\(s\) revoked now/);
  });

  it('refuses an unknown organization and a missing argument', async () => {
    const [unknown, missing] = await Promise.all([runCli(['org', 'delete', 'nosuch'], h.env), runCli(['org', 'delete'], h.env)]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown organization "nosuch"');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('usage: scimsync org list | org delete <org>');
  });
});

describe('deleteOrganization and createToken racing', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it('never leaves a live token on a deleted organization', async () => {
    for (let i = 0; i < 20; i++) {
      const slug = `race-${i}`;
      const claim = await claimOrganization(db.pool, { organization: slug }, { kind: 'file', ref: '/etc/scimsync/race.yaml' });
      if (claim.status !== 'claimed') throw new Error('claim failed');
      const creates = Array.from({ length: 5 }, () => createToken(db.pool, claim.organization.id).then(() => 'created', (e: unknown) => (e instanceof OrganizationDeletedError ? 'refused' : Promise.reject(e))));
      const [deletion, ...outcomes] = await Promise.all([deleteOrganization(db.pool, slug, 'test'), ...creates]);
      expect(deletion.status).toBe('deleted');
      const created = outcomes.filter((o) => o === 'created').length;
      const { rows } = await db.pool.query<{ live: number; revoked: number }>(
        `select count(*) filter (where revoked_at is null)::int as live, count(*) filter (where revoked_at is not null)::int as revoked
           from scim_tokens where organization_id = $1::uuid`,
        [claim.organization.id],
      );
      expect(rows[0]).toEqual({ live: 0, revoked: created });
      if (deletion.status === 'deleted') expect(deletion.tokensRevoked).toBe(created);
    }
  });
});
