// Runs in every test file (vitest setupFiles): after the file's own hooks, fails the file if
// any log line its processes wrote at info or above carried a token, an Authorization value
// or an email address (collected by test/helpers/logScan.ts).
import { afterAll } from 'vitest';
import { takeLeaks } from '../helpers/logScan.js';

afterAll(async () => {
  // Let the last chunks of killed children's stderr arrive.
  await new Promise((r) => setTimeout(r, 50));
  const leaks = takeLeaks();
  if (leaks.length) {
    const shown = leaks.slice(0, 10).map((l) => `  [${l.kind}] ${l.source}: ${l.line.slice(0, 400)}`);
    throw new Error(`secrets or personal data in log output at info or above (${leaks.length} lines):\n${shown.join('\n')}`);
  }
});
