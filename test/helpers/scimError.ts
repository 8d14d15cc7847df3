import { ScimError } from '../../src/scim/errors.js';

/** Runs fn and returns the ScimError it throws; fails when it throws nothing or something else. */
export function scimError(fn: () => unknown): ScimError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ScimError) return err;
    throw err;
  }
  throw new Error('expected a ScimError');
}
