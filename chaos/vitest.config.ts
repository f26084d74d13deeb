import { defineConfig } from 'vitest/config';

// The chaos suite (npm run test:chaos): one case at a time, each bounded by its own deadlines and by
// the timeout here. The global teardown renders RELIABILITY.md from the rows the cases wrote.
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['chaos/**/*.chaos.test.ts'],
    testTimeout: 240_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    globalSetup: ['chaos/global-setup.ts'],
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'chaos-results.json' }]] : ['default'],
  },
});
