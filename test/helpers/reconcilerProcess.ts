// Compiles the reconciler once (tsc, only src/reconciler + src/targets and what they import)
// and spawns `node …/reconciler/processMain.js` as a real child process.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = path.join(root, 'node_modules/.cache/scimsync-reconciler-dist');
let built: Promise<void> | undefined;

export function buildReconciler(): Promise<void> {
  built ??= promisify(execFile)(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'test/helpers/tsconfig.reconciler.json')], { cwd: root }).then(() => {});
  return built;
}

export interface ReconcilerProcess {
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

export function spawnReconciler(databaseUrl: string, env: Record<string, string> = {}, args: string[] = ['reconcile']): ReconcilerProcess {
  const child = spawn(process.execPath, [path.join(outDir, 'reconciler/processMain.js'), ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (d) => output.push(String(d)));
  child.stderr?.on('data', (d) => output.push(String(d)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output, exited };
}
