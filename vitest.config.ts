import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // tfjs backends are process-global state: files run in separate forks, tests in a file in order.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
