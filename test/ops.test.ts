// Operating scimsync: logs without secrets, request ids, /metrics, graceful SIGTERM, and the
// zero-setup embedded PostgreSQL shared by two processes. Real child processes of the built CLI.
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeLogger } from '../src/log.js';
import { freePort } from '../src/store/embedded.js';
import { findOrganization } from '../src/store/orgs.js';
import { createToken } from '../src/store/tokens.js';
import { cliEnv, killAllCli, logLines, runCli, sleep, startCli, TOKEN_PATTERN, waitForOk, type CliProcess } from './helpers/cli.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

afterAll(killAllCli);

/** Starts `scimsync start` (demo organization) on a free port and waits until it is ready. */
async function startServer(settings: Record<string, string>): Promise<{ server: CliProcess; base: string }> {
  const port = await freePort();
  const server = startCli(['start'], cliEnv({ HOST: '127.0.0.1', PORT: String(port), ...settings }));
  const base = `http://127.0.0.1:${port}`;
  await waitForOk(`${base}/readyz`, server);
  return { server, base };
}

async function demoToken(db: TestDatabase): Promise<string> {
  const org = await findOrganization(db.pool, 'demo');
  return (await createToken(db.pool, org!.id)).token;
}

/** Whether a new TCP connection to the port is accepted. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const newUser = (userName: string, password?: string) => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
  userName,
  name: { givenName: 'Ada', familyName: 'Lovelace' },
  emails: [{ value: userName, primary: true }],
  ...(password ? { password } : {}),
});

describe('log redaction (src/log.ts)', () => {
  it('censors the Authorization header, tokens and passwords wherever the paths name them', () => {
    const chunks: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk.toString());
        done();
      },
    });
    const log = makeLogger('info', sink);
    log.info(
      {
        req: { method: 'GET', headers: { authorization: 'Bearer scimsync_abc_SECRET1', host: 'example' } },
        headers: { authorization: 'Bearer SECRET2' },
        token: 'SECRET3',
        password: 'SECRET4',
        target: { token: 'SECRET5', password: 'SECRET6', secret: 'SECRET7', databaseUrl: 'postgres://u:SECRET8@h/db' },
      },
      'something happened',
    );
    log.child({ reqId: 'r1' }).warn({ token: 'SECRET9' }, 'child logger');
    const lines = chunks.join('').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0].req.headers).toEqual({ authorization: '[redacted]', host: 'example' });
    expect(lines[0].headers.authorization).toBe('[redacted]');
    expect(lines[0].token).toBe('[redacted]');
    expect(lines[0].password).toBe('[redacted]');
    expect(lines[0].target).toEqual({ token: '[redacted]', password: '[redacted]', secret: '[redacted]', databaseUrl: '[redacted]' });
    expect(lines[0].msg).toBe('something happened');
    expect(lines[1]).toMatchObject({ reqId: 'r1', token: '[redacted]', msg: 'child logger' });
    expect(chunks.join('')).not.toMatch(/SECRET\d/);
  });
});

describe('a server at LOG_LEVEL=trace', () => {
  let db: TestDatabase;
  let server: CliProcess;
  let base: string;
  let token: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    ({ server, base } = await startServer({ DATABASE_URL: db.url, LOG_LEVEL: 'trace' }));
    token = await demoToken(db);
  });

  afterAll(async () => {
    await killAllCli();
    await db?.drop();
  });

  it('never logs the bearer token or a password; every log line is JSON, requests carry their id', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const list = await fetch(`${base}/scim/v2/demo/Users?filter=${encodeURIComponent('userName eq "ada@example.com"')}`, { headers: { ...auth, 'x-request-id': 'test-req-1' } });
    expect(list.status).toBe(200);
    expect(list.headers.get('x-request-id')).toBe('test-req-1');

    const password = 'Pa55word-that-must-not-leak';
    const created = await fetch(`${base}/scim/v2/demo/Users`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/scim+json' },
      body: JSON.stringify(newUser('ada@example.com', password)),
    });
    expect(created.status).toBe(201);
    const createdId = created.headers.get('x-request-id');
    expect(createdId).toMatch(/^[0-9a-f-]{36}$/);

    // A wrong token and one of the right shape for another organization: also never logged.
    const wrong = `${token.slice(0, -4)}AAAA`;
    const denied = await fetch(`${base}/scim/v2/demo/Users`, { headers: { authorization: `Bearer ${wrong}` } });
    expect(denied.status).toBe(401);
    const deniedId = denied.headers.get('x-request-id')!;
    expect(deniedId).toBeTruthy();

    await server.waitForStderr((s) => s.includes(deniedId) && s.includes(createdId!) && s.includes('test-req-1'));
    const stderr = server.stderr;
    const secret = (t: string) => TOKEN_PATTERN.exec(t)![2]!;
    for (const s of [token, secret(token), wrong, secret(wrong), password]) expect(stderr).not.toContain(s);
    expect(stderr).not.toMatch(/bearer\s+[\w-]{12,}/i);

    for (const line of stderr.split('\n').filter((l) => l.trim() && !l.startsWith('scimsync: ') && !l.startsWith('  get a bearer token'))) {
      expect(() => JSON.parse(line), `not a JSON log line: ${line}`).not.toThrow();
    }
    const requests = logLines(stderr).filter((l) => l.msg === 'request');
    const byId = (id: string) => requests.find((l) => l.reqId === id);
    expect(byId('test-req-1')).toMatchObject({ method: 'GET', path: '/scim/v2/demo/Users', status: 200 });
    expect(byId(createdId!)).toMatchObject({ method: 'POST', path: '/scim/v2/demo/Users', status: 201 });
    expect(byId(deniedId)).toMatchObject({ method: 'GET', status: 401 });
    expect(JSON.stringify(byId('test-req-1'))).not.toContain('ada@example.com'); // no query strings
  });

  it('exposes SCIM request counters and durations by method, resource and code, and process metrics', async () => {
    const scrape = async () => {
      const res = await fetch(`${base}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const text = await res.text();
      const samples = parseMetrics(text);
      const value = (name: string, labels: Record<string, string>) =>
        samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
      return { text, samples, value };
    };
    const before = await scrape();
    const auth = { authorization: `Bearer ${token}` };
    for (let i = 0; i < 3; i++) expect((await fetch(`${base}/scim/v2/demo/Users`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${base}/scim/v2/demo/Users`)).status).toBe(401);
    expect((await fetch(`${base}/scim/v2/demo/Groups`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    expect((await fetch(`${base}/scim/v2/demo/ServiceProviderConfig`, { headers: auth })).status).toBe(200);

    const after = await scrape();
    const { text, samples } = after;
    const delta = (name: string, labels: Record<string, string>) => after.value(name, labels) - before.value(name, labels);

    expect(delta('scimsync_scim_requests_total', { method: 'GET', resource: 'Users', code: '200' })).toBe(3);
    expect(delta('scimsync_scim_requests_total', { method: 'GET', resource: 'Users', code: '401' })).toBe(1);
    expect(delta('scimsync_scim_requests_total', { method: 'GET', resource: 'Groups', code: '401' })).toBe(1);
    expect(delta('scimsync_scim_requests_total', { method: 'GET', resource: 'ServiceProviderConfig', code: '200' })).toBe(1);
    expect(delta('scimsync_scim_requests_total', { method: 'POST' })).toBe(0);
    // Health checks and /metrics are not SCIM requests: no other resource label appears.
    expect(samples.some((s) => s.name === 'scimsync_scim_requests_total' && !['Users', 'Groups', 'ServiceProviderConfig'].includes(s.labels.resource!))).toBe(false);

    expect(delta('scimsync_scim_request_duration_seconds_bucket', { method: 'GET', resource: 'Users', le: '+Inf' })).toBe(4);
    expect(delta('scimsync_scim_request_duration_seconds_count', { method: 'GET', resource: 'Users' })).toBe(4);
    expect(delta('scimsync_scim_request_duration_seconds_count', { method: 'GET', resource: 'Groups' })).toBe(1);
    expect(samples.some((s) => s.name === 'scimsync_scim_request_duration_seconds_bucket' && s.labels.le === '0.1')).toBe(true);
    expect(text).toContain('# HELP scimsync_scim_requests_total ');
    expect(text).toContain('# TYPE scimsync_scim_request_duration_seconds histogram');

    expect(samples.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
    expect(samples.some((s) => s.name.startsWith('nodejs_'))).toBe(true);
  });
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format, enough for our assertions: name{k="v",…} value */
function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

describe('SIGTERM', () => {
  let db: TestDatabase;
  let locker: pg.Client | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterEach(async () => {
    await killAllCli();
    await locker?.end().catch(() => {});
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('drains the in-flight request, refuses new connections, and exits 0 within the shutdown timeout', async () => {
    const timeoutMs = 8000;
    // Ingress only: this is about the HTTP drain, and the reconciler would queue on the same lock.
    const { server, base } = await startServer({ DATABASE_URL: db.url, LOG_LEVEL: 'info', SHUTDOWN_TIMEOUT_MS: String(timeoutMs), RECONCILER_ENABLED: 'false' });
    const port = Number(new URL(base).port);
    const token = await demoToken(db);

    // No endpoint is slow on purpose: hold a lock the POST needs.
    locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    await locker.query('begin');
    await locker.query('lock table scim_users in access exclusive mode');
    const post = fetch(`${base}/scim/v2/demo/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify(newUser('slow@example.com')),
    });
    const waiting = async () =>
      Number((await db.pool.query(`select count(*) as n from pg_locks where relation = 'scim_users'::regclass and not granted`)).rows[0].n);
    for (let i = 0; (await waiting()) === 0; i++) {
      if (i > 200) throw new Error('the POST never reached the lock');
      await sleep(25);
    }

    const signalled = Date.now();
    server.child.kill('SIGTERM');
    await server.waitForStderr((s) => s.includes('shutting down'));
    expect(await accepts(port)).toBe(false);
    let settled = false;
    void post.finally(() => (settled = true));
    await sleep(Math.max(0, 300 - (Date.now() - signalled)));
    expect(settled).toBe(false);
    await locker.query('commit');

    const res = await post;
    expect(res.status).toBe(201);
    expect(((await res.json()) as { userName: string }).userName).toBe('slow@example.com');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalled).toBeLessThan(timeoutMs);
    const { rows } = await db.pool.query(`select 1 from scim_users where user_name = 'slow@example.com'`);
    expect(rows).toHaveLength(1);
  });
});

describe('embedded PostgreSQL (no DATABASE_URL)', () => {
  let dir: string;
  const pidFile = () => path.join(dir, 'data', 'pg', 'postmaster.pid');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'scimsync-embedded-'));
    await chmod(dir, 0o755); // run as root, postgres runs as the postgres user and must reach it
  });

  afterAll(async () => {
    await killAllCli();
    // A SIGKILLed server leaves its postgres running: stop it so nothing outlives the tests.
    if (dir && existsSync(pidFile())) {
      const pid = Number(readFileSync(pidFile(), 'utf8').split('\n')[0]);
      try {
        process.kill(pid, 'SIGQUIT');
        for (let i = 0; i < 100; i++) {
          process.kill(pid, 0);
          await sleep(50);
        }
      } catch {
        // gone
      }
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a second process joins the running server; SIGTERM stops both scimsync and postgres', { timeout: 60_000 }, async () => {
    const settings = { DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'info' };
    const { server, base } = await startServer(settings);
    expect(existsSync(pidFile())).toBe(true);
    const postgresPid = Number(readFileSync(pidFile(), 'utf8').split('\n')[0]);

    const port = new URL(base).port;
    const created = await runCli(['token', 'create', 'demo'], cliEnv({ ...settings, PORT: port }));
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toContain('using the embedded PostgreSQL already running');
    expect(created.stderr).toContain(`http://localhost:${port}/scim/v2/demo`);
    const token = created.stdout.trim();
    expect(token).toMatch(TOKEN_PATTERN);
    // The joining process must leave the server running.
    expect(existsSync(pidFile())).toBe(true);

    const res = await fetch(`${base}/scim/v2/demo/Users`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { totalResults: number }).totalResults).toBe(0);

    server.child.kill('SIGTERM');
    const exit = await Promise.race([server.exited, sleep(20_000).then(() => 'timeout' as const)]);
    expect(exit, server.stderr).toEqual({ code: 0, signal: null });
    for (let i = 0; i < 100 && existsSync(pidFile()); i++) await sleep(50);
    expect(existsSync(pidFile())).toBe(false);
    expect(() => process.kill(postgresPid, 0)).toThrow();
  });
});
