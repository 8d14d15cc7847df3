// The CLI as a user runs it: `node dist/main.js …` (built by `npm test`) as child processes,
// against a real Postgres database per file.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../src/store/embedded.js';
import { BIN, ROOT, cliEnv, killAllCli, runCli, sleep, startCli, TOKEN_PATTERN, waitForOk, type CliProcess } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

const CONFIGS = `apiVersion: scimsync.io/v1alpha1
kind: ScimConfig
metadata: { name: acme }
spec:
  organization: acme
---
apiVersion: scimsync.io/v1alpha1
kind: ScimConfig
metadata: { name: globex }
spec:
  organization: globex
`;

const execFileP = promisify(execFile);
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'scimsync-cli-'));
});

afterAll(async () => {
  await killAllCli();
  await rm(tmp, { recursive: true, force: true });
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('scimsync migrate', () => {
  const adminUrl = inject('adminUrl');
  const names: string[] = [];

  /** An empty (un-migrated) database of its own. */
  async function emptyDatabase(): Promise<string> {
    const name = `scimsync_m_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    names.push(name);
    return Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
  }

  afterAll(async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    for (const name of names) await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  });

  it('applies the migrations to an empty database, and a second run changes nothing', async () => {
    const url = await emptyDatabase();
    const env = cliEnv({ DATABASE_URL: url, LOG_LEVEL: 'info' });
    const first = await runCli(['migrate'], env);
    expect(first.stderr).toContain('migrations applied');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe('');

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const tables = await client.query(
        `select to_regclass('organizations') as orgs, to_regclass('scim_tokens') as tokens,
                to_regclass('scim_users') as users, to_regclass('scim_groups') as groups`,
      );
      expect(tables.rows[0]).toEqual({ orgs: 'organizations', tokens: 'scim_tokens', users: 'scim_users', groups: 'scim_groups' });
      const { rows: applied } = await client.query<{ name: string }>('select name from pgmigrations order by run_on, id');
      expect(applied.map((r) => r.name)).toContain('1764400000000_init');

      const second = await runCli(['migrate'], env);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stderr).not.toContain('migrations applied');
      const { rows: again } = await client.query<{ name: string }>('select name from pgmigrations order by run_on, id');
      expect(again).toEqual(applied);
    } finally {
      await client.end();
    }
  });

  it('several processes migrating at once all succeed (replicas starting together)', async () => {
    const env = cliEnv({ DATABASE_URL: await emptyDatabase(), LOG_LEVEL: 'warn' });
    const runs = await Promise.all([1, 2, 3].map(() => runCli(['migrate'], env)));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
  });
});

describe('scimsync start --config (two organizations) and scimsync token', () => {
  let db: TestDatabase;
  let server: CliProcess;
  let base: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    db = await createTestDatabase();
    const configFile = path.join(tmp, 'orgs.yaml');
    await writeFile(configFile, CONFIGS);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = cliEnv({ DATABASE_URL: db.url, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' });
    server = startCli(['start', '--config', configFile], env);
    await waitForOk(`${base}/readyz`, server);
  });

  afterAll(async () => {
    await killAllCli();
    await db?.drop();
  });

  /** `token create` against the same database; the token is stdout's only line. */
  async function createToken(org: string, ...flags: string[]): Promise<{ token: string; prefix: string; stderr: string }> {
    const r = await runCli(['token', 'create', org, ...flags], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^[^\n]+\n$/);
    const token = r.stdout.trim();
    const m = TOKEN_PATTERN.exec(token);
    expect(m, `stdout is not a token: ${JSON.stringify(r.stdout)}`).not.toBeNull();
    return { token, prefix: m![1]!, stderr: r.stderr };
  }

  const users = (org: string, token: string) => fetch(`${base}/scim/v2/${org}/Users`, { headers: bearer(token) }).then((r) => r.status);

  it('answers /healthz and /readyz, and tells on stderr how to get a token for each organization', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    await server.waitForStderr((s) => s.includes('token create globex'));
    expect(server.stderr).toContain('./bin/scimsync.js token create acme');
    expect(server.stderr).toContain('./bin/scimsync.js token create globex');
    expect(server.stdout).toBe('');
  });

  it('token create prints only the token on stdout and the endpoint on stderr; it opens acme, not globex', async () => {
    const { token, prefix, stderr } = await createToken('acme');
    expect(stderr).toContain(`/scim/v2/acme`);
    expect(stderr).toContain(prefix);
    expect(stderr).not.toContain(token);
    expect(await users('acme', token)).toBe(200);
    expect(await users('globex', token)).toBe(401);
    expect(await users('acme', `${token}x`)).toBe(401);
  });

  it('the database keeps only the SHA-256 hash of a token', async () => {
    const { token, prefix } = await createToken('acme', '--description', 'hash check');
    const secret = token.split('_').slice(2).join('_');
    const { rows } = await db.pool.query<{ hash: string; row: string }>(
      `select encode(token_hash, 'hex') as hash, t::text as row from scim_tokens t where prefix = $1::text`,
      [prefix],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.hash).toBe(createHash('sha256').update(token).digest('hex'));
    const { rows: all } = await db.pool.query<{ row: string }>('select t::text as row from scim_tokens t');
    for (const { row } of all) {
      expect(row).not.toContain(token);
      expect(row).not.toContain(secret);
    }
  });

  it('token list shows prefixes and status, never a secret', async () => {
    const { token, prefix } = await createToken('acme', '--description', 'listed');
    const r = await runCli(['token', 'list', 'acme'], env);
    expect(r.code, r.stderr).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.startsWith(prefix));
    expect(line).toBeDefined();
    expect(line).toContain('active');
    expect(line).toContain('listed');
    const secret = token.split('_').slice(2).join('_');
    expect(r.stdout).not.toContain(secret);
    expect(r.stderr).not.toContain(secret);
  });

  it('two live tokens work at once (rotation); a revoked one is refused from the next request on', async () => {
    const [old, next] = await Promise.all([createToken('acme'), createToken('acme')]);
    expect(await users('acme', old.token)).toBe(200);
    expect(await users('acme', next.token)).toBe(200);

    const r = await runCli(['token', 'revoke', 'acme', old.prefix], env);
    expect(r.code, r.stderr).toBe(0);
    expect(await users('acme', old.token)).toBe(401);
    expect(await users('acme', next.token)).toBe(200);

    const [list, again, wrongOrg] = await Promise.all([
      runCli(['token', 'list', 'acme'], env),
      runCli(['token', 'revoke', 'acme', old.prefix], env),
      runCli(['token', 'revoke', 'globex', next.prefix], env),
    ]);
    expect(list.stdout.split('\n').find((l) => l.startsWith(old.prefix))).toContain('revoked');
    expect(again.code).toBe(1);
    expect(wrongOrg.code).toBe(1);
    expect(await users('acme', next.token)).toBe(200);
  });

  it('a token created with --expires-in stops working once it expires', async () => {
    // 3s rather than 1s: the token must still be valid after `token create` exits, even on a busy machine.
    const { token, prefix } = await createToken('acme', '--expires-in', '3s');
    const { rows } = await db.pool.query<{ ms: number; left: number }>(
      `select extract(epoch from expires_at - created_at) * 1000 as ms,
              extract(epoch from expires_at - now()) * 1000 as left
         from scim_tokens where prefix = $1::text`,
      [prefix],
    );
    expect(Number(rows[0]!.ms)).toBeGreaterThan(2500);
    expect(Number(rows[0]!.ms)).toBeLessThan(3500);
    expect(await users('acme', token)).toBe(200);
    await sleep(Math.max(0, Number(rows[0]!.left)) + 200);
    expect(await users('acme', token)).toBe(401);
    const list = await runCli(['token', 'list', 'acme'], env);
    expect(list.stdout.split('\n').find((l) => l.startsWith(prefix))).toContain('expired');
  });

  it('refuses an unknown organization and a malformed duration with a non-zero exit', async () => {
    const [unknown, badDuration] = await Promise.all([
      runCli(['token', 'create', 'initech'], env),
      runCli(['token', 'create', 'acme', '--expires-in', 'soon'], env),
    ]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toContain('unknown organization "initech"');
    expect(badDuration.code).not.toBe(0);
    expect(badDuration.stdout).toBe('');
    expect(badDuration.stderr).toContain('invalid duration');
  });
});

describe('scimsync start without --config', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await killAllCli();
    await db?.drop();
  });

  it('serves the demo organization and says how to get its token', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    // Reconciler off: its clean stop is covered in ops.test.ts (embedded PostgreSQL).
    const env = cliEnv({ DATABASE_URL: db.url, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', RECONCILER_ENABLED: 'false' });
    const server = startCli(['start'], env);
    await waitForOk(`${base}/readyz`, server);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await server.waitForStderr((s) => s.includes('get a bearer token for it with:  ./bin/scimsync.js token create demo'));
    expect(server.stderr).toContain(`http://localhost:${port}/scim/v2/demo`);
    const { rows } = await db.pool.query<{ slug: string }>('select slug from organizations');
    expect(rows.map((r) => r.slug)).toEqual(['demo']);
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });
});

describe('scimsync reconcile (a lone reconciler replica)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await killAllCli();
    await db?.drop();
  });

  it('serves /healthz, /readyz and /metrics with the reconciler metrics, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = cliEnv({ DATABASE_URL: db.url, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn' });
    const reconciler = startCli(['reconcile'], env);
    await waitForOk(`${base}/readyz`, reconciler);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('# HELP scimsync_queue_depth');
    expect(metrics).toContain('# HELP scimsync_provisioning_latency_seconds');
    // no SCIM here: a reconciler replica is not an ingress
    expect((await fetch(`${base}/scim/v2/demo/Users`)).status).toBe(404);
    reconciler.child.kill('SIGTERM');
    expect(await reconciler.exited).toEqual({ code: 0, signal: null });
  });
});

describe('invalid configuration', () => {
  it('stops at start listing every invalid setting', async () => {
    const r = await runCli(['start'], cliEnv({ PORT: 'abc', LOG_LEVEL: 'loud', DATABASE_URL: 'not-a-url' }));
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stdout).toBe('');
    for (const name of ['PORT', 'LOG_LEVEL', 'DATABASE_URL']) expect(r.stderr).toMatch(new RegExp(`^\\s*- ${name}: `, 'm'));
  });

  it('stops at start naming every problem of an invalid ScimConfig file', async () => {
    const file = path.join(tmp, 'invalid.yaml');
    await writeFile(
      file,
      `apiVersion: scimsync.io/v1alpha1
kind: ScimConfig
spec:
  organization: Not_A_Slug
---
apiVersion: scimsync.io/v1alpha1
kind: ConfigMap
spec:
  organization: fine
`,
    );
    await chmod(file, 0o644);
    // A database that does not answer: the file must be rejected before any connection.
    const r = await runCli(['start', '--config', file], cliEnv({ DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', PORT: '0', LOG_LEVEL: 'warn' }));
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toContain('invalid ScimConfig');
    expect(r.stderr).toMatch(/document 1: spec\.organization: must be a DNS label/);
    expect(r.stderr).toMatch(/document 2: kind: /);
  });

  it('stops at start on an unknown field (dryrun: for dryRun:), naming its path and the document', async () => {
    const file = path.join(tmp, 'typo.yaml');
    await writeFile(file, `${CONFIGS}  dryrun: true\n  revocationGuard: { maxcount: 3 }\n`);
    const r = await runCli(['start', '--config', file], cliEnv({ DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', PORT: '0', LOG_LEVEL: 'warn' }));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${file} document 2: spec.dryrun: unknown field "dryrun" (did you mean "dryRun"?)`);
    expect(r.stderr).toContain(`${file} document 2: spec.revocationGuard.maxcount: unknown field "maxcount" (did you mean "maxCount"?)`);
    expect(r.stderr).not.toContain('document 1');
  });
});

describe('help', () => {
  it('node bin/scimsync.js help and --help print the commands', async () => {
    for (const arg of ['help', '--help']) {
      const r = await runCli([arg], cliEnv({}), { script: BIN });
      expect(r.code, r.stderr).toBe(0);
      for (const cmd of ['scimsync start', 'scimsync migrate', 'scimsync token create <org>', 'scimsync token list', 'scimsync token revoke']) {
        expect(r.stdout).toContain(cmd);
      }
    }
  });

  it("the README's commands run as written from a checkout, without npx or npm's cache", async () => {
    // `npx scimsync` installs the checkout into npm's global cache first (about 10 s on a fresh
    // clone, and it fails under load); the README runs the bin file itself, as start's hint does.
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
    const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Commands'));
    expect(quickStart).toContain('./bin/scimsync.js token create demo');
    expect(readme).not.toMatch(/npx scimsync/);
    const { stdout } = await execFileP('./bin/scimsync.js', ['--help'], { cwd: ROOT, env: cliEnv({}), timeout: 20_000 });
    expect(stdout).toContain('scimsync token create <org>');
  });

  it('an unreachable DATABASE_URL at start: one line naming DATABASE_URL, where and why, never the password; exit 1', async () => {
    const r = await runCli(['start'], cliEnv({ DATABASE_URL: 'postgres://nobody:s3cr3t-pw@127.0.0.1:1/none', PORT: '0', LOG_LEVEL: 'warn' }), { script: BIN });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(
      'cannot connect to the database at DATABASE_URL (127.0.0.1:1/none): connection refused — check that PostgreSQL is running and DATABASE_URL is right',
    );
    expect(r.stderr).not.toContain('s3cr3t-pw');
  });

  it('an unknown command fails with the usage', async () => {
    const r = await runCli(['frobnicate'], cliEnv({ DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }), { script: BIN });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
  });
});
