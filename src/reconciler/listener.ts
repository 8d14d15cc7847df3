// LISTEN on the reconcile channel with a dedicated connection (a pooled one would be handed
// to others). Reconnects with backoff; while disconnected the worker's poll still runs.
import pg from 'pg';
import type { Logger } from 'pino';
import { RECONCILE_CHANNEL } from '../store/reconcileQueue.js';

export function listenForChanges(databaseUrl: string, log: Logger, signal: AbortSignal, onNotify: () => void): Promise<void> {
  let client: pg.Client | undefined;
  let retryMs = 250;
  return new Promise<void>((resolve) => {
    const connect = async () => {
      if (signal.aborted) return resolve();
      const c = new pg.Client({ connectionString: databaseUrl, application_name: 'scimsync-reconciler-listen' });
      client = c;
      const lost = (err?: Error) => {
        c.removeAllListeners();
        c.on('error', () => {});
        c.end().catch(() => {});
        if (signal.aborted) return resolve();
        log.warn({ err }, 'reconcile listener lost; reconnecting');
        setTimeout(connect, retryMs).unref();
        retryMs = Math.min(retryMs * 2, 10_000);
        onNotify(); // poll once: a notification may have been missed
      };
      c.on('error', lost);
      c.on('end', () => lost());
      c.on('notification', onNotify);
      try {
        await c.connect();
        await c.query(`listen ${RECONCILE_CHANNEL}`);
        retryMs = 250;
        onNotify();
      } catch (err) {
        lost(err as Error);
      }
    };
    signal.addEventListener(
      'abort',
      () => {
        client?.removeAllListeners();
        client?.on('error', () => {});
        client?.end().catch(() => {});
        resolve();
      },
      { once: true },
    );
    void connect();
  });
}
