// Building blocks of the fault suite (npm run test:faults): real scimsync processes
// (node dist/main.js), a Postgres of their own that a test can stop and start again on the
// same port, and a SCIM write load that keeps an account of every acknowledged write.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { freePort, startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/store/embedded.js';
import { startHttpTarget, type HttpTargetServer } from '../helpers/httpTarget.js';
import { MAIN } from '../helpers/reconcilerProcess.js';

/** FAULTS_QUICK=1 (CI): fewer rounds and shorter load; the full run is documented in docs/faults.md. */
export const QUICK = process.env.FAULTS_QUICK === '1' || process.env.FAULTS_QUICK === 'true';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A PostgreSQL server of one test: stopped (fast or immediate shutdown) and started again on its port. */
export interface RestartablePostgres {
  url: string;
  port: number;
  /** 'fast' (SIGINT: sessions are terminated, 57P01) or 'immediate' (SIGQUIT: a crash, recovery at start). */
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startRestartablePostgres(): Promise<RestartablePostgres> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'scimsync-fault-pg-'));
  await chmod(dir, 0o755); // the postgres user (when we run as root) must reach it
  const log = pino({ level: 'warn' });
  const port = await freePort();
  const settings = { fsync: 'off', full_page_writes: 'off', max_connections: '200' };
  let db: EmbeddedDatabase = await startEmbeddedPostgres({ dataDir: dir, log, settings, port });
  let running = true;
  const pid = async () => Number((await readFile(path.join(dir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const gone = async (p: number) => {
    for (;;) {
      try {
        process.kill(p, 0);
      } catch {
        return;
      }
      await sleep(20);
    }
  };
  return {
    url: db.url,
    port,
    async stop(mode) {
      const p = await pid();
      if (mode === 'fast') await db.stop();
      else {
        process.kill(p, 'SIGQUIT');
        await gone(p);
      }
      running = false;
    },
    async start() {
      db = await startEmbeddedPostgres({ dataDir: dir, log, settings, port });
      running = true;
    },
    async destroy() {
      if (running) await db.stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface ScimsyncProcess {
  child: ChildProcess;
  port: number;
  url: string;
  output: string[];
  exited: Promise<number | null>;
  /** Resolves once /healthz answers. */
  ready(timeoutMs?: number): Promise<void>;
}

/** `node dist/main.js <args>` as an operator runs it, on 127.0.0.1 and a port of its own. */
export async function spawnScimsync(args: string[], env: Record<string, string>, port?: number): Promise<ScimsyncProcess> {
  const p = port ?? (await freePort());
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: String(p), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (d) => output.push(String(d)));
  child.stderr?.on('data', (d) => output.push(String(d)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  const url = `http://127.0.0.1:${p}`;
  return {
    child,
    port: p,
    url,
    output,
    exited,
    async ready(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`scimsync ${args.join(' ')} exited ${child.exitCode}: ${output.join('').slice(-2000)}`);
        try {
          if ((await fetch(`${url}/healthz`)).ok) return;
        } catch {}
        if (Date.now() > deadline) throw new Error(`scimsync did not become ready: ${output.join('').slice(-2000)}`);
        await sleep(100);
      }
    },
  };
}

/** DeprecationWarnings the processes printed (pg's overlapping-queries warning among them): must be none. */
export const deprecations = (procs: ScimsyncProcess[]): string[] =>
  procs.flatMap((p) => p.output.join('').split('\n').filter((l) => l.includes('DeprecationWarning')));

export async function createTokenFor(databaseUrl: string, org: string): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [MAIN, 'token', 'create', org], { env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' } });
  return stdout.trim();
}

/**
 * A ScimConfig file for `scimsync start --config`, an http target at `targetUrl`. The
 * revocation guard is off: these tests delete users by the hundred, and holding those
 * revocations is the guard's job (tested on its own), not a fault.
 */
export async function scimConfigFile(org: string, targetUrl: string, timeout = '2s'): Promise<{ file: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'scimsync-fault-cfg-'));
  const file = path.join(dir, 'scimconfig.yaml');
  await writeFile(
    file,
    `apiVersion: scimsync.io/v1alpha1\nkind: ScimConfig\nmetadata:\n  name: ${org}\nspec:\n  organization: ${org}\n  revocationGuard:\n    enabled: false\n  target:\n    type: http\n    http:\n      baseUrl: ${targetUrl}\n      retryBaseDelay: 20ms\n      timeout: ${timeout}\n`,
  );
  return { file, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** What one SCIM request came back with. */
export interface Outcome {
  status: number; // 0: no HTTP answer (connection refused or reset)
  retryAfter: string | null;
  body: any;
}

export async function scimRequest(base: string, token: string, method: string, path: string, body?: unknown): Promise<Outcome> {
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: parsed };
  } catch {
    return { status: 0, retryAfter: null, body: undefined };
  }
}

/** Every write a client sent and what it was answered: the acknowledged-write ledger. */
export interface Ledger {
  /** userName → id of every 2xx-acknowledged POST /Users. */
  created: Map<string, string>;
  /** id → displayName values: the last acknowledged one, and every one sent after it. */
  patched: Map<string, { acked?: string; later: string[] }>;
  statuses: Map<number, number>;
  /** 5xx answers that were not 503 + Retry-After + a SCIM error body: must stay empty. */
  bad: Outcome[];
  requests: number;
  /** Time of every 2xx answer (ms since epoch), to measure recovery. */
  okAt: number[];
}

export const newLedger = (): Ledger => ({ created: new Map(), patched: new Map(), statuses: new Map(), bad: [], requests: 0, okAt: [] });

function account(l: Ledger, o: Outcome): boolean {
  l.requests++;
  l.statuses.set(o.status, (l.statuses.get(o.status) ?? 0) + 1);
  const ok = o.status >= 200 && o.status < 300;
  if (ok) l.okAt.push(Date.now());
  const scimError = o.body && Array.isArray(o.body.schemas) && o.body.schemas.includes('urn:ietf:params:scim:api:messages:2.0:Error');
  if (o.status >= 500 && !(o.status === 503 && o.retryAfter && scimError)) l.bad.push(o);
  return ok;
}

/**
 * One writer until `stop` is set: creates users (prefix-n) and renames the last one it
 * created, alternating, recording each answer in the ledger. `bases` are tried in turn (two
 * ingress processes share the load).
 */
export async function writer(bases: string[], token: string, prefix: string, l: Ledger, stop: { stopped: boolean }): Promise<void> {
  let n = 0;
  let last: string | undefined;
  let ok = true;
  while (!stop.stopped) {
    const base = bases[n % bases.length]!;
    n++;
    if (last && n % 2 === 0) {
      const value = `${prefix} v${n}`;
      const entry = l.patched.get(last) ?? { later: [] };
      l.patched.set(last, entry);
      const o = await scimRequest(base, token, 'PATCH', `/Users/${last}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'displayName', value }],
      });
      ok = account(l, o);
      if (ok) {
        entry.acked = value;
        entry.later = [];
      } else entry.later.push(value);
    } else {
      const userName = `${prefix}-${n}@faults.example`;
      const o = await scimRequest(base, token, 'POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName, displayName: `${prefix} v0` });
      ok = account(l, o);
      if (ok) {
        l.created.set(userName, o.body.id);
        last = o.body.id;
      }
    }
    // An IdP backs off on failure; a tight loop of refused connections would only burn the CPU.
    if (!ok) await sleep(50);
  }
}

/** Acknowledged writes missing from the database: creations absent, renames not (or superseded by an unacknowledged later one). */
export async function lostWrites(l: Ledger, query: (sql: string, values: unknown[]) => Promise<{ rows: any[] }>): Promise<string[]> {
  const ids = [...l.created.values()];
  const { rows } = await query(`select id::text, user_name, display_name from scim_users where id = any($1::uuid[]) and deleted_at is null`, [ids]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const lost: string[] = [];
  for (const [userName, id] of l.created) if (byId.get(id)?.user_name !== userName) lost.push(`created ${userName}`);
  for (const [id, p] of l.patched) {
    if (!p.acked) continue;
    const now = byId.get(id)?.display_name;
    if (now !== p.acked && !p.later.includes(now)) lost.push(`patched ${id}: ${p.acked} acknowledged, ${now} stored`);
  }
  return lost;
}

export const statusSummary = (l: Ledger) => Object.fromEntries([...l.statuses].sort((a, b) => a[0] - b[0]));

/** Prometheus text → value of one sample (labels as written, e.g. '{kind="user",result="error"}'), summed over matches. */
export function metricSum(text: string, name: string, labelMatch: (labels: string) => boolean = () => true): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^(\w+)(\{[^}]*\})? ([\d.eE+-]+|NaN)$/.exec(line);
    if (m && m[1] === name && labelMatch(m[2] ?? '')) sum += Number(m[3]);
  }
  return sum;
}

/** What a fault suite runs against; the fields are set in its beforeAll. */
export interface FaultRig<D> {
  db: D;
  target: HttpTargetServer;
  /** A scimsync config file for org `acme` whose target is `target`. */
  config: { file: string; remove(): Promise<void> };
  /** The suite's scimsync processes: the ones still running are SIGKILLed in afterAll. */
  procs: ScimsyncProcess[];
}

/**
 * Registers a fault suite's beforeAll/afterAll: a database from `startDb` and an HTTP target
 * (started together), a config for org `acme` pointing at the target; afterAll SIGKILLs the
 * suite's live processes, then closes the target, removes the config and calls `stopDb`.
 */
export function useFaultRig<D>(startDb: () => Promise<D>, stopDb: (db: D) => Promise<void>): FaultRig<D> {
  const rig = { procs: [] as ScimsyncProcess[] } as FaultRig<D>;
  beforeAll(async () => {
    [rig.db, rig.target] = await Promise.all([startDb(), startHttpTarget()]);
    rig.config = await scimConfigFile('acme', rig.target.baseUrl);
  }, 120_000);
  afterAll(async () => {
    for (const p of rig.procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await rig.target?.close();
    await rig.config?.remove();
    if (rig.db) await stopDb(rig.db);
  });
  return rig;
}
