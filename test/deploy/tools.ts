// The deploy tests' command-line tools, obtained by the repository's own scripts/tools.sh
// (Debian's prometheus package for promtool and prometheus). A tool that cannot be had fails
// the test with the script's reason — never a silent pass or skip.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

export interface PrometheusTools {
  promtool: string;
  prometheus: string;
}

let cached: Promise<PrometheusTools> | undefined;

/** Paths of promtool and prometheus; fetches them on first use (about 2 s, then cached in .tools/). */
export function prometheusTools(): Promise<PrometheusTools> {
  cached ??= (async () => {
    let stdout: string;
    try {
      ({ stdout } = await run(path.join(ROOT, 'scripts/tools.sh'), ['prometheus'], { cwd: ROOT, timeout: 180_000 }));
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`scripts/tools.sh prometheus could not provide promtool/prometheus:\n${err.stderr || err.message}`);
    }
    const paths = Object.fromEntries(stdout.trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
    if (!paths.PROMTOOL || !paths.PROMETHEUS) throw new Error(`scripts/tools.sh printed no PROMTOOL/PROMETHEUS paths:\n${stdout}`);
    return { promtool: paths.PROMTOOL, prometheus: paths.PROMETHEUS };
  })();
  return cached;
}

/** Runs a tool to completion; resolves with its exit code and output (never throws on exit code). */
export async function runTool(file: string, args: string[], opts: { input?: string; cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { cwd: opts.cwd ?? ROOT, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : -1) : 0;
      if (error && code === -1) return reject(error);
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}
