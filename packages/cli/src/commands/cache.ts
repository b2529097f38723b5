/** `wharf cache ls` and `wharf cache prune [--keep-storage SIZE | --all]`: the build cache on disk. */
import { cacheSummary, defaultStoreRoot, openStore, parseSize, pruneCache, WharfError } from '@wharf/core';
import type { Command } from 'commander';
import { formatBytes } from '../render/progress.js';

interface CacheFlags {
  readonly cacheDir?: string;
  readonly keepStorage?: string;
  readonly all?: boolean;
}

export function registerCache(program: Command): void {
  const cache = program
    .command('cache')
    .description('show or prune the build cache (layers, pulled blobs, step records)');
  cache
    .command('ls')
    .description('how much the cache holds')
    .option('--cache-dir <dir>', 'the cache (default: $XDG_CACHE_HOME/wharf)')
    .action(async (flags: CacheFlags) => {
      const store = await openStore({ root: flags.cacheDir ?? defaultStoreRoot() });
      const summary = await cacheSummary(store);
      process.stdout.write(
        `${[
          `Cache:        ${store.root}`,
          `Step records: ${summary.records} (${formatBytes(summary.layerBytes)} of layers)`,
          `Blobs:        ${summary.blobs} (${formatBytes(summary.storeBytes)})`,
        ].join('\n')}\n`,
      );
    });
  cache
    .command('prune')
    .description('remove the oldest cached steps (and their layers) beyond a size, or everything')
    .option('--cache-dir <dir>', 'the cache (default: $XDG_CACHE_HOME/wharf)')
    .option('--keep-storage <size>', 'keep at most this much of cached layers, newest first (e.g. 10GB)')
    .option('--all', 'remove every step record and every blob')
    .action(async (flags: CacheFlags) => {
      if (!flags.all && flags.keepStorage === undefined) {
        throw new WharfError('CLI_PRUNE_WHAT', 'say how much to keep', {
          hint: 'wharf cache prune --keep-storage 10GB, or --all',
        });
      }
      let keepBytes: number | undefined;
      if (flags.keepStorage !== undefined) {
        try {
          keepBytes = parseSize(flags.keepStorage);
        } catch {
          throw new WharfError('CLI_BAD_SIZE', `invalid --keep-storage "${flags.keepStorage}"`, {
            hint: 'use e.g. 500MB or 10GB',
          });
        }
      }
      const store = await openStore({ root: flags.cacheDir ?? defaultStoreRoot() });
      const result = await pruneCache(store, {
        ...(flags.all ? { all: true } : {}),
        ...(keepBytes === undefined ? {} : { keepBytes }),
      });
      process.stdout.write(
        `removed ${result.records} step records and ${formatBytes(result.bytes)} of blobs\n`,
      );
    });
}
