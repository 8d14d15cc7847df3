// Fails a test file during which this process printed a DeprecationWarning: pg 8 warns when a
// client is given a query while one is running ("an error in the next major version"), and
// Node warns once per process, so the first occurrence must fail the file that caused it.
import { afterAll, expect } from 'vitest';

const seen: string[] = [];
const onWarning = (w: Error) => {
  if (w.name === 'DeprecationWarning') seen.push(`${w.message}\n${w.stack ?? ''}`);
};
process.on('warning', onWarning);

afterAll(() => {
  process.off('warning', onWarning);
  expect(seen, 'DeprecationWarning printed during this file').toEqual([]);
});
