// Outcome semantics of a reconcile pass (controller-runtime pkg/reconcile): a thrown error
// means retry with backoff; a returned { requeueAfter } means poll again later; a
// TerminalError means stop retrying this item, but count and record it.

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

export class AbortedError extends Error {
  override name = 'AbortedError';
  constructor() {
    super('reconcile pass aborted by shutdown');
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError();
}
