// LISTEN on the reconcile channel (src/store/listen.ts owns the connection and reconnects
// with backoff). Every (re)connection wakes the worker once: a notification sent while the
// connection was down is lost, so it claims due items then (the missed-notification sweep);
// the worker's poll covers the time in between. In `scimsync start` the channel is one
// subscription on the process's shared Listener (one LISTEN backend per process: every
// NOTIFY signals every listening backend of the database); `scimsync reconcile` opens its own.
import type { Logger } from 'pino';
import { listen, type Listener } from '../store/listen.js';
import { RECONCILE_CHANNEL } from '../store/reconcileQueue.js';

/** Resolves once `signal` aborts (never rejects). */
export function listenForChanges(databaseUrl: string, log: Logger, signal: AbortSignal, onNotify: () => void, shared?: Listener): Promise<void> {
  if (!shared) return listen({ url: databaseUrl, channel: RECONCILE_CHANNEL, log, signal, onNotify, onConnected: onNotify });
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const unsubscribe = shared.subscribe(RECONCILE_CHANNEL, { onNotify, onConnected: onNotify });
    signal.addEventListener('abort', () => (unsubscribe(), resolve()), { once: true });
  });
}
