// How a reconcile item ends, from its pass's outcome (controller-runtime pkg/reconcile
// semantics, read through classifyError): complete it, requeue it, retry it with backoff, give
// it back, or record it as failed for good. Pure: the loop (loop.ts) writes the settlement.
import type { WorkItem } from '../store/reconcileQueue.js';
import { AbortedError, classifyError, type Result } from './errors.js';

/** What became of one item of a batch: a Result (completed: already off the queue) or an error to handle. */
export type Settled = { item: WorkItem; result: Result; error?: undefined } | { item: WorkItem; error: unknown };

/** Retry delay of a failed item's `attempts`-th attempt: "equal jitter", never less than half the ceiling. */
export const backoffMs = (attempts: number, base: number, max: number): number => {
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempts - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
};

/**
 * How one item ends (scimsync_reconcile_total's `result`) and what is written for it. After a
 * failed pass (`bestEffort`) the writes may fail unnoticed: the item then keeps its claim and
 * runs again once its lease expires.
 */
export type Settlement =
  | { result: 'success'; complete: boolean }
  | { result: 'requeue'; retryInMs: number; error: string | null; bestEffort: boolean }
  | { result: 'aborted' }
  | { result: 'terminal'; error: string; cause: unknown }
  | { result: 'error'; retryInMs: number; error: string; cause: unknown };

/**
 * An item's settlement from its pass's outcome (controller-runtime semantics, classifyError):
 * a Result completes it (unless the pass already did) or requeues it after `requeueAfter`; a
 * shutdown (AbortedError) gives it back; a terminal error completes it and is recorded; the
 * target's Retry-After requeues it without backoff; anything else retries with backoff.
 */
export function settlementOf(item: WorkItem, outcome: { result: Result } | { error: unknown }, s: { retryBaseMs: number; retryMaxMs: number }): Settlement {
  if ('result' in outcome) {
    const r = outcome.result;
    if (r.requeueAfter !== undefined) return { result: 'requeue', retryInMs: r.requeueAfter, error: null, bestEffort: false };
    return { result: 'success', complete: !r.completed };
  }
  const err = outcome.error;
  if (err instanceof AbortedError) return { result: 'aborted' };
  const verdict = classifyError(err);
  if (verdict.kind === 'terminal') return { result: 'terminal', error: String((err as Error).message), cause: err };
  if (verdict.kind === 'requeueAfter') return { result: 'requeue', retryInMs: verdict.delayMs, error: String((err as Error).message), bestEffort: true };
  return { result: 'error', retryInMs: backoffMs(item.attempts, s.retryBaseMs, s.retryMaxMs), error: String((err as Error)?.message ?? err), cause: err };
}
