/**
 * The flags a CLI test gives a build command (`build`, `bake`) so that it uses a cache of its own and
 * pulls base images through the test mirror, never the network.
 * @example await wharfAsync(['build', definition, ...cacheFlags(tempDir())])
 */
import { testEnv } from './env.js';

export function cacheFlags(cacheDir: string, progress = 'quiet'): string[] {
  return ['--progress', progress, '--cache-dir', cacheDir, '--registry-mirror', testEnv().mirror.url];
}
