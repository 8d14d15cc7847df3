import { defineConfig } from 'vitest/config';

// `npm run test:deploy`: the deployment artefacts (alert rules, dashboard, Helm chart,
// Dockerfile) proven with real tools — promtool, a live Prometheus scraping a live scimsync, helm.
// Separate from `npm test` so that one stays fast; .ci/run runs both.
export default defineConfig({
  test: {
    include: ['test/deploy/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 240_000,
    pool: 'forks',
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-deploy-report.json' }]] : ['default'],
  },
});
