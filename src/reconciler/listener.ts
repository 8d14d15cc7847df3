// LISTEN on the reconcile channel (src/store/listen.ts owns the connection and reconnects
// with backoff). Every (re)connection wakes the worker once: a notification sent while the
// connection was down is lost, so it claims due items then (the missed-notification sweep);
// the worker's poll covers the time in between.
import type { Logger } from 'pino';
import { listen } from '../store/listen.js';
import { RECONCILE_CHANNEL } from '../store/reconcileQueue.js';

export function listenForChanges(databaseUrl: string, log: Logger, signal: AbortSignal, onNotify: () => void): Promise<void> {
  return listen({ url: databaseUrl, channel: RECONCILE_CHANNEL, log, signal, onNotify, onConnected: onNotify });
}
