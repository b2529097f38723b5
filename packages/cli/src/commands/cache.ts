/** `wharf cache ls` and `wharf cache prune [--keep-storage SIZE | --all]`: the build cache on disk. */
import { WharfError } from '@wharf/core';
import { defaultStoreRoot, listBuildCache, openStore, parseSize, pruneBuildCache } from '@wharf/core/engine';
import type { Command } from 'commander';
import { formatBytes } from '../render/size.js';

interface CacheFlags {
  readonly cacheDir?: string;
  readonly keepStorage?: string;
  readonly all?: boolean;
  readonly json?: boolean;
}

export function registerCache(program: Command): void {
  const cache = program
    .command('cache')
    .description(
      'show or prune the build cache (step records, layers, pulled blobs, RUN snapshots, cache mounts)',
    );
  cache
    .command('ls')
    .description('what the cache holds: totals, then each cache mount and step record')
    .option('--cache-dir <dir>', 'the cache (default: $XDG_CACHE_HOME/wharf)')
    .option('--json', 'one JSON document: root, usage, steps[], cacheMounts[]')
    .action(async (flags: CacheFlags) => {
      const store = await openStore({ root: flags.cacheDir ?? defaultStoreRoot() });
      const listing = await listBuildCache(store);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(listing, null, 2)}\n`);
        return;
      }
      const { usage } = listing;
      const lines = [
        `Cache:        ${store.root}`,
        `Step records: ${usage.records} (${formatBytes(usage.layerBytes)} of layers)`,
        `Blobs:        ${usage.blobs} (${formatBytes(usage.storeBytes)})`,
        `Snapshots:    ${usage.snapshotLayers} extracted layer${usage.snapshotLayers === 1 ? '' : 's'} (${formatBytes(usage.snapshotBytes)})`,
        `Cache mounts: ${formatBytes(usage.cacheMountBytes)}`,
      ];
      if (listing.cacheMounts.length > 0) {
        lines.push('', 'CACHE MOUNT                               SIZE        LAST USED');
        for (const mount of listing.cacheMounts) {
          lines.push(
            `${(mount.id ?? '(unnamed)').padEnd(40)}  ${formatBytes(mount.bytes).padEnd(10)}  ${new Date(mount.lastUsedMs).toISOString()}`,
          );
        }
      }
      if (listing.steps.length > 0) {
        lines.push('', 'STEP KEY       LAYER                SIZE        CREATED');
        for (const step of listing.steps) {
          const layer = step.layer ? step.layer.digest.slice(0, 19) : '(none)';
          lines.push(
            `${step.key.slice(0, 12)}   ${layer.padEnd(19)}  ${formatBytes(step.layer?.size ?? 0).padEnd(10)}  ${step.created}`,
          );
        }
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  cache
    .command('prune')
    .description('remove the oldest cached steps, layers and snapshots beyond a size, or everything')
    .option('--cache-dir <dir>', 'the cache (default: $XDG_CACHE_HOME/wharf)')
    .option(
      '--keep-storage <size>',
      'keep at most this much in all: step layers, RUN snapshots, cache mounts, other blobs — most recent first (e.g. 10GB)',
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
        `${formatBytes(result.cacheMountBytes)} of cache mounts`,
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
