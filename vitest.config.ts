import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Suites with their own command and config: test/deploy (`npm run test:deploy`,
    // vitest.deploy.config.ts) and test/faults (`npm run test:faults`, vitest.faults.config.ts).
    exclude: ['test/deploy/**', 'test/faults/**', 'node_modules/**'],
    globalSetup: ['test/globalSetup.ts'],
    setupFiles: ['test/setup/warnings.ts', 'test/setup/logScan.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-report.json' }]] : ['default'],
  },
});
