// Fault injection: what a real apiserver, load balancer or network does to a controller now and
// then. Each fault is armed in-process (fake.faults.*) or over HTTP (POST /_fake/faults/<name>).
import { errors, type ApiError } from './errors.js';

/** Which requests a fault applies to; all fields optional (AND). Control paths (/_fake) never match. */
export interface RequestMatch {
  method?: string; // GET, POST, PUT, PATCH, DELETE
  /** Substring of the path (no query), e.g. "/scimconfigs" or "/leases/". */
  path?: string;
  /** true: only watch requests; false: only non-watch requests. */
  watch?: boolean;
}

export interface RequestInfo {
  method: string;
  path: string;
  watch: boolean;
}

export interface FailSpec {
  /** HTTP status: 500, 503, 504 or 429. */
  status: number;
  /** Requests to fail (default 1 when forMs is not given). */
  count?: number;
  /** Fail every matching request for this long instead of a count. */
  forMs?: number;
  /** 429: Retry-After seconds (header and details.retryAfterSeconds). Default 1. */
  retryAfterSeconds?: number;
  match?: RequestMatch;
}

export interface StallSpec {
  /** Delay before the server handles the request (ms). */
  ms: number;
  count?: number;
  forMs?: number;
  match?: RequestMatch;
}

interface Armed<T> {
  spec: T;
  left: number; // remaining count (Infinity with a duration)
  until: number; // epoch ms, Infinity with a count
}

function matches(m: RequestMatch | undefined, r: RequestInfo): boolean {
  if (!m) return true;
  if (m.method && m.method.toUpperCase() !== r.method) return false;
  if (m.path && !r.path.includes(m.path)) return false;
  if (m.watch !== undefined && m.watch !== r.watch) return false;
  return true;
}

function arm<T extends { count?: number; forMs?: number }>(spec: T): Armed<T> {
  return spec.forMs !== undefined
    ? { spec, left: Infinity, until: Date.now() + spec.forMs }
    : { spec, left: spec.count ?? 1, until: Infinity };
}

/** Takes one use of the first live fault that matches, dropping spent ones. */
function take<T extends { match?: RequestMatch }>(list: Armed<T>[], r: RequestInfo): T | undefined {
  const t = Date.now();
  for (let i = list.length - 1; i >= 0; i--) if (list[i].left <= 0 || list[i].until <= t) list.splice(i, 1);
  const f = list.find((a) => matches(a.spec.match, r));
  if (!f) return undefined;
  f.left--;
  return f.spec;
}

/** Hooks the watch machinery registers so faults can act on open watches. */
export interface WatchControl {
  /** Destroys the sockets of open watches (a network drop); returns how many. */
  drop(): number;
  /** Ends open watches cleanly (chunked stream closed, as at timeout or apiserver shutdown). */
  end(): number;
  /** Open watches stay open but receive nothing more (a half-dead connection). */
  silence(): number;
  /** Closes the listener and every connection, listens again after `downMs`. */
  restart(downMs: number): Promise<void>;
}

export class Faults {
  private fails: Armed<FailSpec>[] = [];
  private stalls: Armed<StallSpec>[] = [];
  private gone: { left: number; mode: 'event' | 'http' }[] = [];
  /** Every new watch is ended by the server after this many seconds (null: only timeoutSeconds). */
  watchLifetimeSeconds: number | null = null;
  /** Counters for tests: how many times each fault fired. */
  readonly fired = { fail: 0, stall: 0, gone: 0, dropped: 0, ended: 0, silenced: 0, restarts: 0 };

  constructor(private readonly watches: WatchControl) {}

  /** Answers the next `count` matching requests (or all for `forMs`) with `status`. */
  fail(spec: FailSpec): void {
    if (![429, 500, 502, 503, 504].includes(spec.status)) throw new Error(`fail: status ${spec.status} not supported`);
    this.fails.push(arm(spec));
  }

  /** Delays the next `count` matching requests (or all for `forMs`) by `ms` before handling them. */
  stall(spec: StallSpec): void {
    this.stalls.push(arm(spec));
  }

  /**
   * The next `count` watch requests that carry a resourceVersion get 410 Gone: by default as the
   * watch cache does it (200, one ERROR event with a 410 Status, end of stream), or as an HTTP 410.
   */
  goneNextWatch(count = 1, mode: 'event' | 'http' = 'event'): void {
    this.gone.push({ left: count, mode });
  }

  /** Drops every open watch now (socket destroyed without a chunked terminator). */
  dropWatches(): number {
    const n = this.watches.drop();
    this.fired.dropped += n;
    return n;
  }

  /** Ends every open watch now, cleanly, as the server does at timeoutSeconds. */
  endWatches(): number {
    const n = this.watches.end();
    this.fired.ended += n;
    return n;
  }

  /** Open watches stop receiving events but stay connected (what a watchdog re-list exists for). */
  silenceWatches(): number {
    const n = this.watches.silence();
    this.fired.silenced += n;
    return n;
  }

  /**
   * An apiserver restart: every connection is cut, new ones are refused (ECONNREFUSED) for
   * `downMs`, then the server listens on the same port with the same objects. Its watch history
   * starts afresh (the watch cache is rebuilt), so watches from older versions get 410.
   * Resolves when the server is back.
   */
  async restart(downMs = 1000): Promise<void> {
    this.fired.restarts++;
    await this.watches.restart(downMs);
  }

  /** From now on the server ends each watch after `seconds` (null: off). */
  endWatchesAfter(seconds: number | null): void {
    this.watchLifetimeSeconds = seconds;
  }

  /** Disarms everything armed (open watches stay as they are). */
  reset(): void {
    this.fails = [];
    this.stalls = [];
    this.gone = [];
    this.watchLifetimeSeconds = null;
  }

  // --- used by the server ---

  /** The error to answer with instead of handling the request, if a fail fault matches. */
  takeFailure(r: RequestInfo): ApiError | undefined {
    const f = take(this.fails, r);
    if (!f) return undefined;
    this.fired.fail++;
    if (f.status === 429) return errors.tooManyRequests(f.retryAfterSeconds ?? 1);
    if (f.status === 503) return errors.serviceUnavailable();
    if (f.status === 500) return errors.internal();
    return errors.generic(f.status, 'injected fault');
  }

  /** Milliseconds to wait before handling the request. */
  takeStall(r: RequestInfo): number {
    const s = take(this.stalls, r);
    if (!s) return 0;
    this.fired.stall++;
    return s.ms;
  }

  /** Whether this watch request gets a 410, and how. */
  takeGone(): 'event' | 'http' | undefined {
    const g = this.gone.find((x) => x.left > 0);
    if (!g) return undefined;
    g.left--;
    if (g.left <= 0) this.gone.splice(this.gone.indexOf(g), 1);
    this.fired.gone++;
    return g.mode;
  }
}
