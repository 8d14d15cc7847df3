// Runs the built CLI (`node dist/main.js …`) as real child processes. Every process started
// here is tracked, so a test file's afterAll/afterEach can kill whatever is still running
// even when a test failed halfway (killAllCli).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../../src/config.js';
import { lineCollector } from './logScan.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MAIN = path.join(ROOT, 'dist', 'main.js');
export const BIN = path.join(ROOT, 'bin', 'scimsync.js');

/** Exact format of a token (src/store/tokens.ts TOKEN_PATTERN). */
export const TOKEN_PATTERN = /^scimsync_([a-z0-9]{10})_([A-Za-z0-9_-]{43})$/;

const live = new Set<ChildProcess>();

/**
 * The environment of a child: this process's, without any scimsync setting (a developer's
 * DATABASE_URL or PORT must not leak in), plus the given ones.
 */
export function cliEnv(settings: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(configSchema.shape)) delete env[key];
  for (const [k, v] of Object.entries(settings)) if (v !== undefined) env[k] = v;
  return env;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliProcess {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  exited: Promise<Exit>;
  /** Resolves when stderr satisfies the predicate; rejects on timeout or exit. */
  waitForStderr(test: (stderr: string) => boolean, timeoutMs?: number): Promise<void>;
}

export function startCli(args: string[], env: NodeJS.ProcessEnv, script = MAIN): CliProcess {
  const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  const scan = lineCollector(`scimsync ${args.slice(0, 2).join(' ')}`);
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
    scan.write(c);
  });
  child.stderr!.on('end', () => scan.end());
  const exited = new Promise<Exit>((resolve) => {
    child.on('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    async waitForStderr(test, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!test(stderr)) {
        if (done) throw new Error(`process exited before the expected output; stderr:\n${stderr}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for output; stderr:\n${stderr}`);
        await sleep(25);
      }
    },
  };
}

export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after timeoutMs). */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, opts: { timeoutMs?: number; script?: string } = {}): Promise<CliResult> {
  const p = startCli(args, env, opts.script);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
  const exit = await p.exited;
  clearTimeout(timer);
  return { ...exit, stdout: p.stdout, stderr: p.stderr };
}

/** SIGKILLs every child still running and waits for them to be gone. */
export async function killAllCli(): Promise<void> {
  await Promise.all(
    [...live].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('close', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls GET url until it answers 200; fails early with the server's stderr if it exits. */
export async function waitForOk(url: string, server: CliProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void server.exited.then(() => (exited = true));
  for (;;) {
    if (exited) throw new Error(`server exited before ${url} answered; stderr:\n${server.stderr}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
      await res.body?.cancel();
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${url}; stderr:\n${server.stderr}`);
    await sleep(50);
  }
}

/** JSON log lines of a process's stderr (other lines are the CLI's human hints). */
export function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
