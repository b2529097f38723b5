import { defineConfig } from 'vitest/config';
import { missingPeerSuitesLine, peerSuitesPresent } from './test/conformance/peer-suites.js';

// Tests import workspace packages from their TypeScript sources (the `wharf:source` export condition),
// so `vitest` needs no prior build. Integration tests in test/ run the CLI from dist/ where they exec it.
const resolve = { conditions: ['wharf:source'] };

// The conformance project reads the peer suites (others' test data, outside the repository). Without them a
// normal run says so in one line and runs nothing there; with CI=true its global setup fails the run.
const conformance = peerSuitesPresent() || process.env.CI === 'true';
const projectArgs = process.argv.flatMap((arg, i, all) =>
  arg === '--project' ? [all[i + 1] ?? ''] : arg.startsWith('--project=') ? [arg.slice(10)] : [],
);
if (!conformance && (projectArgs.length === 0 || projectArgs.includes('conformance'))) {
  console.log(missingPeerSuitesLine());
}

export default defineConfig({
  test: {
    // Only for `--project conformance` on a clone without the peer suites (its include is then empty).
    passWithNoTests: !conformance,
    projects: [
      { resolve, test: { name: 'core', root: 'packages/core', include: ['src/**/*.test.ts'] } },
      { resolve, test: { name: 'cli', root: 'packages/cli', include: ['src/**/*.test.ts'] } },
      {
        resolve,
        test: {
          name: 'test',
          root: 'test',
          include: ['**/*.test.ts'],
          exclude: ['**/node_modules/**', 'conformance/**'],
          globalSetup: ['./helpers/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
      {
        resolve,
        test: {
          name: 'conformance',
          root: 'test/conformance',
          include: conformance ? ['**/*.test.ts'] : [],
          globalSetup: ['./global-setup.ts'],
          testTimeout: 120_000,
        },
      },
    ],
  },
});
