import { defineConfig } from 'vitest/config';

// `npm run test:device`: the GPU checks (test/device/), kept out of `npm test` by their suffix.
export default defineConfig({
  test: {
    include: ['test/device/**/*.device.ts'],
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
