// One LISTEN connection per process that outlives the database: a dedicated client (a pooled
// one would be handed to others), reconnected with capped, jittered backoff whenever it is lost
// (a Postgres restart, a failover, a network cut). Notifications sent while it was down are
// lost — Postgres queues them only for live sessions — so every (re)connection is announced to
// each channel's subscriber, which sweeps for what it may have missed.
//
// Why one connection for every channel: on each NOTIFY, Postgres (≤ 17, async.c
// SignalBackends) signals every backend LISTENing in the database, whatever its channel; each
// then wakes, reads the queue and drops what is not its own. With a connection per channel a
// process of `scimsync start` woke two backends per SCIM write (the reconciler's channel is
// notified by every write). See docs/benchmarks.md, "Issue 11".
import type { Logger } from 'pino';
import { makeClient } from './pool.js';

export interface ChannelHandlers {
  /** A notification arrived on the channel. */
  onNotify: () => void;
  /** LISTEN on the channel is (again) in place: look for work notified while it was not. */
  onConnected: () => void;
  /** The connection was lost (called once per loss, before the reconnection is scheduled). */
  onLost?: () => void;
}

export interface ListenerOptions {
  url: string;
  log: Logger;
  /** application_name of the connection (pg_stat_activity); 'scimsync-listen' by default. */
  applicationName?: string;
  /** First reconnection delay (ms); doubles up to maxDelayMs, each with "equal jitter". */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** Delay before reconnection attempt `attempt` (1-based): half fixed, half random, capped. */
export function reconnectDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

type Client = ReturnType<typeof makeClient>;

/**
 * A shared, reconnecting LISTEN connection. Channels are added with subscribe() at any time
 * (one subscriber per channel); the connection opens on the first subscription and stays
 * until close(). Never rejects, never throws after construction: losses are logged and retried.
 */
export class Listener {
  private readonly channels = new Map<string, ChannelHandlers>();
  private readonly base: number;
  private readonly max: number;
  private failures = 0;
  private current: Client | undefined;
  /** True once LISTEN on every channel of the current connection has been confirmed. */
  private ready = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: ListenerOptions) {
    this.base = opts.baseDelayMs ?? 250;
    this.max = opts.maxDelayMs ?? 10_000;
  }

  /**
   * Listens on `channel` (an unquoted lower-case identifier; throws otherwise, or if it already
   * has a subscriber). Returns the unsubscribe function (UNLISTEN; idempotent).
   */
  subscribe(channel: string, handlers: ChannelHandlers): () => void {
    if (!IDENTIFIER.test(channel)) throw new Error(`LISTEN channel must be a lower-case identifier: ${channel}`);
    if (this.channels.has(channel)) throw new Error(`LISTEN channel ${channel} already has a subscriber`);
    if (this.closed) return () => {};
    this.channels.set(channel, handlers);
    if (!this.current && !this.timer) this.connect();
    else if (this.ready) {
      // Added to a live connection: LISTEN on it alone; a loss meanwhile reconnects with all.
      const c = this.current!;
      c.query(`listen ${channel}`).then(
        () => {
          if (c === this.current && this.channels.get(channel) === handlers) handlers.onConnected();
        },
        () => {}, // the connection's 'error'/'end' owns the loss
      );
    }
    return () => {
      if (this.channels.get(channel) !== handlers) return;
      this.channels.delete(channel);
      if (this.ready) this.current?.query(`unlisten ${channel}`).catch(() => {});
    };
  }

  /** Closes the connection; subscribers get no further calls. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const c = this.current;
    this.current = undefined;
    this.ready = false;
    this.channels.clear();
    if (c) {
      c.removeAllListeners('notification');
      await c.end().catch(() => {});
    }
  }

  private connect(): void {
    this.timer = undefined;
    if (this.closed) return;
    const c = makeClient(this.opts.url, this.opts.applicationName ?? 'scimsync-listen');
    this.current = c;
    this.ready = false;
    let lost = false;
    const onLost = (err?: unknown) => {
      if (lost) return;
      lost = true;
      c.removeAllListeners('notification');
      c.end().catch(() => {});
      if (this.current !== c) return; // closed meanwhile
      this.current = undefined;
      this.ready = false;
      for (const h of [...this.channels.values()]) h.onLost?.();
      this.retry(err ?? new Error('LISTEN connection ended'));
    };
    // makeClient owns 'error' already (never unhandled); these decide to reconnect.
    c.on('error', onLost);
    c.on('end', () => onLost());
    c.on('notification', (msg: { channel: string }) => this.channels.get(msg.channel)?.onNotify());
    const names = [...this.channels.keys()];
    c.connect()
      .then(() => c.query(names.map((n) => `listen ${n}`).join('; ')))
      .then(
        () => {
          if (lost || this.current !== c) return;
          if (this.failures > 0) this.opts.log.info({ attempts: this.failures }, 'LISTEN connection restored');
          this.failures = 0;
          this.ready = true;
          // A channel subscribed while connecting was not in `names`: LISTEN on it now.
          for (const [n, h] of [...this.channels]) {
            if (names.includes(n)) h.onConnected();
            else c.query(`listen ${n}`).then(() => c === this.current && this.channels.get(n) === h && h.onConnected(), () => {});
          }
        },
        (err: unknown) => onLost(err),
      );
  }

  private retry(err: unknown): void {
    if (this.closed) return;
    this.failures++;
    const delay = reconnectDelayMs(this.failures, this.base, this.max);
    // Once per outage at warn; every further attempt at debug.
    this.opts.log[this.failures === 1 ? 'warn' : 'debug']({ err, attempt: this.failures, retryInMs: delay }, 'LISTEN connection lost; reconnecting');
    this.timer = setTimeout(() => this.connect(), delay);
  }
}

export interface ListenOptions extends ListenerOptions, ChannelHandlers {
  channel: string;
  signal: AbortSignal;
}

/**
 * Listens on one channel on a connection of its own until the signal aborts; never rejects.
 * For a process with one listening part (`scimsync reconcile`); parts that run together share
 * a Listener instead.
 */
export function listen(opts: ListenOptions): Promise<void> {
  const listener = new Listener({ ...opts, applicationName: opts.applicationName ?? 'scimsync-reconciler-listen' });
  return new Promise<void>((resolve) => {
    const finish = () => void listener.close().then(resolve);
    if (opts.signal.aborted) return finish();
    listener.subscribe(opts.channel, opts);
    opts.signal.addEventListener('abort', finish, { once: true });
  });
}
