// The two stderr streams of a real process (src/log.ts): per-request access lines are
// buffered (written in batches, at the latest 250 ms after they were logged, and whatever is
// left at exit), every other line is written at once — a warning never waits for traffic.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';

const LOG = path.join(ROOT, 'dist', 'log.js');

/** Runs `code` in a child process with `log` (makeLogger('info')) and `access` in scope; returns stderr lines with arrival times. */
function run(code: string): Promise<{ line: Record<string, unknown>; at: number }[]> {
  const script = `import { makeLogger, accessLogOf } from ${JSON.stringify(LOG)};
const log = makeLogger('info'); const access = accessLogOf(log);
const started = Date.now(); ${code}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  const started = Date.now();
  const out: { line: Record<string, unknown>; at: number }[] = [];
  let buf = '';
  child.stderr.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) if (l) out.push({ line: JSON.parse(l), at: Date.now() - started });
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))));
  });
}

describe('log destinations', () => {
  it('writes a warning at once while access lines wait for the periodic flush; both arrive', async () => {
    const lines = await run(`access.info({ reqId: 'r1', status: 200 }, 'request');
      log.warn({ n: 1 }, 'something to see now');
      setTimeout(() => log.info({ waited: Date.now() - started }, 'done'), 1000);`);
    const warn = lines.find((l) => l.line.msg === 'something to see now')!;
    const access = lines.find((l) => l.line.msg === 'request')!;
    expect(warn.line).toMatchObject({ level: 40, service: 'scimsync', n: 1 });
    expect(access.line).toMatchObject({ level: 30, reqId: 'r1', status: 200 });
    // The access line came with a periodic flush (≤ 250 ms after it was logged), before the
    // process's last line at 1 s: it does not wait for 4 KiB of traffic or for exit.
    const done = lines.find((l) => l.line.msg === 'done')!;
    expect(access.at).toBeLessThan(done.at);
    // Logged first, written second: the warning did not wait for the buffer.
    expect(lines.indexOf(warn)).toBeLessThan(lines.indexOf(access));
  });

  it('flushes buffered access lines at exit', async () => {
    const lines = await run(`for (let i = 0; i < 10; i++) access.info({ i }, 'request'); process.exit(0);`);
    expect(lines.filter((l) => l.line.msg === 'request').map((l) => l.line.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('a logger given a destination (tests, tools) has no buffered twin', async () => {
    const { makeLogger, accessLogOf } = await import('../src/log.js');
    const chunks: string[] = [];
    const log = makeLogger('info', { write: (s: string) => void chunks.push(s) });
    expect(accessLogOf(log)).toBe(log);
    accessLogOf(log).info('request');
    expect(chunks).toHaveLength(1);
  });
});
