// One classification of reconcile failures (src/reconciler/errors.ts): what each error means
// for its queue item. The worker, the recorded operation results and the pass outcome all read
// errors through classifyError; the end-to-end behaviour of each class is in reconciler.test.ts.
import { describe, expect, it } from 'vitest';
import { InvalidSpecError } from '../src/reconciler/desired.js';
import { classifyError, TerminalError } from '../src/reconciler/errors.js';
import { TargetRejectedError, TargetRetryLaterError } from '../src/targets/target.js';

describe('classifyError', () => {
  it.each([
    ['a TerminalError', new TerminalError('no'), { kind: 'terminal' }],
    ['an invalid organization spec (a TerminalError)', new InvalidSpecError('organization x: invalid spec'), { kind: 'terminal' }],
    ['a target rejection (4xx)', new TargetRejectedError('400 from target', 400), { kind: 'terminal' }],
    ['a target Retry-After', new TargetRetryLaterError('429', 30_000), { kind: 'requeueAfter', delayMs: 30_000 }],
    ['any other error', new Error('connection reset'), { kind: 'retry' }],
    ['a thrown non-error', 'boom', { kind: 'retry' }],
  ])('%s', (_name, err, want) => {
    expect(classifyError(err)).toEqual(want);
  });

  it('InvalidSpecError keeps its name and message', () => {
    const e = new InvalidSpecError('organization x: invalid spec');
    expect(e).toBeInstanceOf(TerminalError);
    expect(e.name).toBe('InvalidSpecError');
    expect(e.message).toBe('organization x: invalid spec');
  });
});
