// The fault suite (npm run test:faults): real processes, a Postgres restarted for real, real
// HTTP on loopback. Files run one after another (each loads the 2-core CI machine by itself).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    setupFiles: ['test/setup/warnings.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-faults-report.json' }]] : ['default'],
  },
});
