// `npm test`: API and process tests on a real Postgres (node), component tests (happy-dom).
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Most of a test's time is spent waiting on Postgres or a spawned server, not on this process's CPU:
    // three files at a time halve the run on a 2-core machine (the default is one fewer than the cores).
    maxWorkers: 3,
    projects: [
      {
        test: {
          name: 'api',
          include: ['test/api/**/*.test.ts', 'test/process/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/setup/postgres.ts'],
          testTimeout: 30_000,
          hookTimeout: 120_000,
        },
      },
      {
        plugins: [vue()],
        test: {
          name: 'ui',
          include: ['dashboard-apps/**/*.test.ts'],
          environment: 'happy-dom',
        },
      },
    ],
  },
});
