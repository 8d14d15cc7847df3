import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/deploy and test/faults have their own commands and configs (vitest.deploy.config.ts,
    // vitest.faults.config.ts).
    exclude: ['test/deploy/**', 'test/faults/**', 'node_modules/**'],
    globalSetup: ['test/globalSetup.ts'],
    setupFiles: ['test/setup/warnings.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-report.json' }]] : ['default'],
  },
});
