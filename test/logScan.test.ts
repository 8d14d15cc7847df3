// The log scanner itself (test/helpers/logScan.ts), and the production logger's guarantees it
// relies on: Authorization redacted, emails scrubbed from logged errors.
import { describe, expect, it } from 'vitest';
import { makeLogger } from '../src/log.js';
import { scanLogText } from './helpers/logScan.js';
import { Writable } from 'node:stream';

const TOKEN = `scimsync_abcdefghij_${'A'.repeat(43)}`;

function capture(): { lines: string[]; dest: Writable } {
  const lines: string[] = [];
  const dest = new Writable({ write(c, _e, cb) { lines.push(...String(c).split('\n').filter(Boolean)); cb(); } });
  return { lines, dest };
}

describe('log scan', () => {
  it('finds tokens, Authorization values and emails at info and above, in JSON and plain lines', () => {
    const text = [
      JSON.stringify({ level: 30, msg: `token ${TOKEN}` }),
      JSON.stringify({ level: 40, headers: { authorization: 'Bearer abcdefgh12345' } }),
      JSON.stringify({ level: 50, msg: 'failed for jane.doe@example.com' }),
      'plain stderr line mentioning bob@corp.example.org',
    ].join('\n');
    expect(scanLogText('t', text).map((l) => l.kind)).toEqual(['token', 'authorization', 'email', 'email']);
  });

  it('allows emails at debug and redacted values', () => {
    const text = [JSON.stringify({ level: 20, email: 'jane@example.com' }), JSON.stringify({ level: 30, authorization: '[redacted]', msg: 'organization reconciled', grants: 3 })].join('\n');
    expect(scanLogText('t', text)).toEqual([]);
  });

  it('the production logger redacts Authorization and scrubs emails from errors', () => {
    const { lines, dest } = capture();
    const log = makeLogger('info', dest);
    log.info({ req: { headers: { authorization: `Bearer ${TOKEN}` } }, token: TOKEN }, 'request');
    log.warn({ err: new Error('GET http://t/members/jane.doe@example.com: 403') }, 'target operation failed');
    log.debug({ email: 'jane@example.com' }, 'applied');
    log.flush();
    expect(lines.length).toBe(2);
    expect(scanLogText('t', lines.join('\n'))).toEqual([]);
    expect(lines[1]).toContain('<email>');
  });
});
