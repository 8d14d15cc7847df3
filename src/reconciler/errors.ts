// Outcome semantics of a reconcile pass (controller-runtime pkg/reconcile): a thrown error
// means retry with backoff; a returned { requeueAfter } means poll again later; a
// TerminalError means stop retrying this item, but count and record it. classifyError is the
// one place that reads an error as one of these; the worker (settleItem), apply (an
// operation's recorded result) and the pass outcome (reconcile.ts) all go through it.
import { TargetRejectedError, TargetRetryLaterError } from '../targets/target.js';

export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

export interface Result {
  requeueAfter?: number;
  /** The pass already completed its queue item (in its last transaction). */
  completed?: boolean;
}

/**
 * What a failure means for its queue item:
 * - `terminal`: retrying cannot fix it (a TerminalError such as InvalidSpecError, or the
 *   target's TargetRejectedError — it lives in src/targets, which knows nothing of the
 *   reconciler): stop retrying until the next change or resync, count and record it;
 * - `requeueAfter`: the target asked us to come back (TargetRetryLaterError, its Retry-After
 *   in `delayMs`): not a failure, no backoff;
 * - `retry`: anything else, retried with exponential backoff.
 */
export type ErrorClass = { kind: 'terminal' } | { kind: 'requeueAfter'; delayMs: number } | { kind: 'retry' };

export function classifyError(err: unknown): ErrorClass {
  if (err instanceof TerminalError || err instanceof TargetRejectedError) return { kind: 'terminal' };
  if (err instanceof TargetRetryLaterError) return { kind: 'requeueAfter', delayMs: err.delayMs };
  return { kind: 'retry' };
}

export class AbortedError extends Error {
  override name = 'AbortedError';
  constructor() {
    super('reconcile pass aborted by shutdown');
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError();
}
