// A LISTEN connection that outlives the database: a dedicated client (a pooled one would be
// handed to others), reconnected with capped, jittered backoff whenever it is lost (a
// Postgres restart, a failover, a network cut). Notifications sent while it was down are
// lost — Postgres queues them only for live sessions — so every (re)connection is announced
// to the caller, which sweeps for what it may have missed.
import type { Logger } from 'pino';
import { makeClient } from './pool.js';

export interface ListenOptions {
  url: string;
  channel: string;
  log: Logger;
  signal: AbortSignal;
  /** A notification arrived on the channel. */
  onNotify: () => void;
  /** LISTEN is (again) in place: look for work notified while it was not. */
  onConnected: () => void;
  /** The connection was lost (called once per loss, before the reconnection is scheduled). */
  onLost?: () => void;
  /** application_name of the connection (pg_stat_activity); 'scimsync-reconciler-listen' by default. */
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

/** Listens on `channel` until the signal aborts; never rejects. `channel` must be an identifier. */
export function listen(opts: ListenOptions): Promise<void> {
  const { log, signal } = opts;
  const base = opts.baseDelayMs ?? 250;
  const max = opts.maxDelayMs ?? 10_000;
  let failures = 0;
  let current: ReturnType<typeof makeClient> | undefined;
  let timer: NodeJS.Timeout | undefined;

  return new Promise<void>((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      current?.removeAllListeners('notification');
      current?.end().catch(() => {});
      resolve();
    };
    const retry = (err: unknown) => {
      if (signal.aborted) return;
      failures++;
      const delay = reconnectDelayMs(failures, base, max);
      // Once per outage at warn; every further attempt at debug.
      log[failures === 1 ? 'warn' : 'debug']({ err, attempt: failures, retryInMs: delay }, 'LISTEN connection lost; reconnecting');
      timer = setTimeout(connect, delay);
    };
    const connect = () => {
      if (signal.aborted) return;
      const c = makeClient(opts.url, opts.applicationName ?? 'scimsync-reconciler-listen');
      current = c;
      let lost = false;
      const onLost = (err?: unknown) => {
        if (lost) return;
        lost = true;
        c.removeAllListeners('notification');
        c.end().catch(() => {});
        opts.onLost?.();
        retry(err ?? new Error('LISTEN connection ended'));
      };
      // makeClient owns 'error' already (never unhandled); these decide to reconnect.
      c.on('error', onLost);
      c.on('end', () => onLost());
      c.on('notification', () => opts.onNotify());
      c.connect()
        .then(() => c.query(`listen ${opts.channel}`))
        .then(
          () => {
            if (lost) return;
            if (failures > 0) log.info({ attempts: failures }, 'LISTEN connection restored');
            failures = 0;
            opts.onConnected();
          },
          (err: unknown) => onLost(err),
        );
    };
    signal.addEventListener('abort', finish, { once: true });
    if (signal.aborted) finish();
    else connect();
  });
}
