// Spawns the reconciler as a user runs it, `node dist/main.js reconcile …`, as a real child
// process. `npm test` builds dist/ first; the benchmark builds it with buildReconciler().
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { lineCollector } from './logScan.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MAIN = path.join(root, 'dist/main.js');
let built: Promise<void> | undefined;

/** Builds dist/ (the project's own tsconfig) once per process, for runs outside `npm test`. */
export function buildReconciler(): Promise<void> {
  built ??= promisify(execFile)(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], { cwd: root }).then(() => {});
  return built;
}

export interface ReconcilerProcess {
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

export function spawnReconciler(databaseUrl: string, env: Record<string, string> = {}, args: string[] = ['reconcile']): ReconcilerProcess {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: root,
    // PORT=0: a long-running `reconcile` serves /healthz and /metrics; several run at once here.
    env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl, LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (d) => output.push(String(d)));
  const scan = lineCollector(`scimsync ${args.join(' ')}`);
  child.stderr?.on('data', (d) => {
    output.push(String(d));
    scan.write(d as Buffer);
  });
  child.stderr?.on('end', () => scan.end());
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output, exited };
}
