/** `wharf cache ls` and `wharf cache prune [--keep-storage SIZE | --all]`: the build cache on disk. */
import { WharfError } from '@wharf/core';
import { buildCacheUsage, defaultStoreRoot, openStore, parseSize, pruneBuildCache } from '@wharf/core/engine';
import type { Command } from 'commander';
import { formatBytes } from '../render/size.js';

interface CacheFlags {
  readonly cacheDir?: string;
  readonly keepStorage?: string;
  readonly all?: boolean;
}

export function registerCache(program: Command): void {
  const cache = program
    .command('cache')
    .description(
      'show or prune the build cache (step records, layers, pulled blobs, RUN snapshots, cache mounts)',
    );
  cache
    .command('ls')
    .description('how much the cache holds')
    .option('--cache-dir <dir>', 'the cache (default: $XDG_CACHE_HOME/wharf)')
    .action(async (flags: CacheFlags) => {
      const store = await openStore({ root: flags.cacheDir ?? defaultStoreRoot() });
      const usage = await buildCacheUsage(store);
      process.stdout.write(
        `${[
          `Cache:        ${store.root}`,
          `Step records: ${usage.records} (${formatBytes(usage.layerBytes)} of layers)`,
          `Blobs:        ${usage.blobs} (${formatBytes(usage.storeBytes)})`,
          `Snapshots:    ${usage.snapshotLayers} extracted layer${usage.snapshotLayers === 1 ? '' : 's'} (${formatBytes(usage.snapshotBytes)})`,
          `Cache mounts: ${formatBytes(usage.cacheMountBytes)}`,
        ].join('\n')}\n`,
      );
    });
  cache
    .command('prune')
    .description('remove the oldest cached steps, layers and snapshots beyond a size, or everything')
    .option('--cache-dir <dir>', 'the cache (default: $XDG_CACHE_HOME/wharf)')
    .option(
      '--keep-storage <size>',
      'keep at most this much of step layers and RUN snapshots, most recent first (e.g. 10GB)',
    )
    .option('--all', 'remove every step record, blob, snapshot and cache mount')
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
      const result = await pruneBuildCache(store, {
        ...(flags.all ? { all: true } : {}),
        ...(keepBytes === undefined ? {} : { keepBytes }),
      });
      const removed = [
        `${result.records} step records`,
        `${formatBytes(result.bytes)} of blobs`,
        `${result.snapshotLayers} snapshots (${formatBytes(result.snapshotBytes)})`,
        ...(flags.all ? [`${formatBytes(result.cacheMountBytes)} of cache mounts`] : []),
      ];
      process.stdout.write(`removed ${removed.join(', ')}\n`);
      if (result.inUse.length > 0) {
        const pids = result.inUse.join(', ');
        process.stderr.write(
          `wharf: the cache is in use by a running build (pid ${pids}): what it may need was left alone; prune again when it ends\n`,
        );
      }
    });
}
