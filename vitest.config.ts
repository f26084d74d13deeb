import { defineConfig } from 'vitest/config';

// One run over every workspace. In CI a JSON report is written as well, so .ci/run can print
// "N passed, N failed" from what actually executed.
export default defineConfig({
  test: {
    include: ['{protocol,agent,hub,simulators}/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
  },
});
