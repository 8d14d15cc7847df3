// One collector for every log line the test suite produces: the stderr of each child process
// (test/helpers/cli.ts, reconcilerProcess.ts) and the in-process pino loggers of the test
// servers. test/setup/logScan.ts fails a test file whose processes logged, at level info or
// above, a bearer token, an Authorization value or an email address (issue 10: secrets are
// never logged, and no personal data at info).
import { Writable } from 'node:stream';

export interface Leak {
  source: string;
  kind: 'token' | 'authorization' | 'email';
  line: string;
}

/** Token format of src/store/tokens.ts: scimsync_<10 prefix chars>_<43 secret chars>. */
const TOKEN = /scimsync_[a-z0-9]{10}_[A-Za-z0-9_-]{20,}/;
/** An Authorization header value (RFC 6750 §2.1 b64token, RFC 7617 Basic). */
const AUTHORIZATION = /\b(?:Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/i;
/** An email address (loose: anything user@host.tld). */
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/;

const INFO = 30; // pino's numeric level of info

const store: Leak[] = ((globalThis as Record<symbol, Leak[]>)[Symbol.for('scimsync.test.leaks')] ??= []);

/**
 * Leaks in a block of log text. JSON lines (pino) below info are skipped: emails may be logged
 * at debug. Any other line (a CLI's human hints on stderr, a stack trace) is scanned whole.
 */
export function scanLogText(source: string, text: string): Leak[] {
  const found: Leak[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    if (line.startsWith('{')) {
      try {
        const level = (JSON.parse(line) as { level?: unknown }).level;
        if (typeof level === 'number' && level < INFO) continue;
      } catch {
        // not JSON after all: scan it as text
      }
    }
    if (TOKEN.test(line)) found.push({ source, kind: 'token', line });
    else if (AUTHORIZATION.test(line)) found.push({ source, kind: 'authorization', line });
    else if (EMAIL.test(line)) found.push({ source, kind: 'email', line });
  }
  return found;
}

/** Records the leaks of `text` for the file's afterAll check. */
export function collect(source: string, text: string): void {
  store.push(...scanLogText(source, text));
}

/** A line-buffered collector for a stream of chunks (a child's stderr). */
export function lineCollector(source: string): { write(chunk: string | Buffer): void; end(): void } {
  let rest = '';
  return {
    write(chunk) {
      const lines = (rest + String(chunk)).split('\n');
      rest = lines.pop() ?? '';
      if (lines.length) collect(source, lines.join('\n'));
    },
    end() {
      if (rest) collect(source, rest);
      rest = '';
    },
  };
}

/** A pino destination that scans every line and keeps nothing: the test servers' logger. */
export function logSink(source: string): Writable {
  const c = lineCollector(source);
  return new Writable({
    write(chunk, _enc, cb) {
      c.write(chunk as Buffer);
      cb();
    },
    final(cb) {
      c.end();
      cb();
    },
  });
}

/** Leaks recorded so far in this test file's process; clears them. */
export function takeLeaks(): Leak[] {
  return store.splice(0, store.length);
}
