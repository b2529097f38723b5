import { defineConfig } from 'vitest/config';

// Tests import workspace packages from their TypeScript sources (the `wharf:source` export condition),
// so `vitest` needs no prior build. Integration tests in test/ run the CLI from dist/ where they exec it.
const resolve = { conditions: ['wharf:source'] };

export default defineConfig({
  test: {
    projects: [
      { resolve, test: { name: 'core', root: 'packages/core', include: ['src/**/*.test.ts'] } },
      { resolve, test: { name: 'cli', root: 'packages/cli', include: ['src/**/*.test.ts'] } },
      {
        resolve,
        test: {
          name: 'test',
          root: 'test',
          include: ['**/*.test.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup: ['./helpers/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
