/**
 * The whole build cache on disk, measured and pruned in one call: step records and their layer blobs
 * (cache/), the snapshots RUN steps extract and keep (runtime/snapshot-gc.ts), and cache mounts.
 *
 * ```ts
 * const store = await openStore({ root: '/var/cache/wharf' });
 * console.log(await buildCacheUsage(store)); // records, blobs, snapshots, cache mounts
 * await pruneBuildCache(store, { keepBytes: 10e9 }); // or { all: true }
 * ```
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type CacheSummary, cacheSummary, type PruneOptions, pruneCache, StepCache } from '../cache/index.js';
import { pruneUnrecordedBlobs } from '../cache/prune.js';
import type { CachedLayer } from '../cache/step-cache.js';
import { diskBytes, pruneSnapshots, snapshotUsage, sweepStale } from '../runtime/snapshot-gc.js';
import { defaultSnapshotRoot } from '../runtime/snapshotter.js';
import { type BlobStore, whileUnused } from '../store/store.js';
import { type CacheMountEntry, listCacheMounts, pruneCacheMounts } from './cache-mounts.js';

export interface BuildCacheUsage extends CacheSummary {
  /** Extracted layers and flattened chains RUN steps keep. */
  readonly snapshotLayers: number;
  readonly snapshotBytes: number;
  /** `--mount=type=cache` directories. */
  readonly cacheMountBytes: number;
}

export interface BuildCachePruneResult {
  readonly records: number;
  /** Bytes of blobs removed. */
  readonly bytes: number;
  readonly snapshotLayers: number;
  readonly snapshotBytes: number;
  readonly cacheMountBytes: number;
  /** Pids of running builds: nothing they might use (records, blobs, snapshots, cache mounts) was removed. */
  readonly inUse: readonly number[];
}

const cacheMountsOf = (store: BlobStore) => join(store.root, 'cache-mounts');

/**
 * What the build cache holds: step records, blobs, RUN snapshots and cache mounts, with their sizes.
 * @example const usage = await buildCacheUsage(await openStore()); // as `wharf cache ls`
 */
export async function buildCacheUsage(store: BlobStore): Promise<BuildCacheUsage> {
  const [summary, snapshots] = await Promise.all([
    cacheSummary(store),
    snapshotUsage(defaultSnapshotRoot(store.root)),
  ]);
  return {
    ...summary,
    snapshotLayers: snapshots.layers,
    snapshotBytes: snapshots.bytes,
    cacheMountBytes: diskBytes(cacheMountsOf(store)),
  };
}

/** Everything `wharf cache ls --json` lists: the totals, each step record and each cache mount. */
export interface BuildCacheListing {
  readonly root: string;
  readonly usage: BuildCacheUsage;
  /** Step records (local, and imported ones a build used), newest first. */
  readonly steps: readonly {
    readonly key: string;
    readonly layer: CachedLayer | null;
    readonly created: string;
  }[];
  /** Cache mounts, most recently used first. */
  readonly cacheMounts: readonly Omit<CacheMountEntry, 'dir'>[];
}

/**
 * The build cache entry by entry.
 * @example const { steps, cacheMounts } = await listBuildCache(await openStore()); // as `wharf cache ls --json`
 */
export async function listBuildCache(store: BlobStore): Promise<BuildCacheListing> {
  const [usage, steps, mounts] = await Promise.all([
    buildCacheUsage(store),
    new StepCache(store.root).list(),
    listCacheMounts(cacheMountsOf(store)),
  ]);
  return {
    root: store.root,
    usage,
    steps,
    cacheMounts: mounts.map(({ dir: _dir, ...mount }) => mount),
  };
}

/**
 * `all`: every record, blob, snapshot and cache mount. `keepBytes`: one budget for every kind — the
 * newest step layers up to that size, then the most recently used snapshots and cache mounts in what
 * is left of it, then the newest of the other blobs (pulled bases, gzip copies); the rest is removed.
 * While another process builds (it holds a lease on the store), nothing is removed and its pid is
 * returned in `inUse`: a build must not lose the blobs and snapshots it reads.
 * @example await pruneBuildCache(await openStore(), { keepBytes: 10e9 }); // or { all: true }, as `wharf cache prune`
 */
export async function pruneBuildCache(
  store: BlobStore,
  options: PruneOptions,
): Promise<BuildCachePruneResult> {
  const none = { records: 0, bytes: 0, snapshotLayers: 0, snapshotBytes: 0, cacheMountBytes: 0 };
  // What killed builds left (containers, mounts, bundles, secrets) goes even while others build.
  await sweepStale(defaultSnapshotRoot(store.root));
  const pruned = await whileUnused(store, async (): Promise<BuildCachePruneResult> => {
    const blobs = await pruneCache(store, options);
    // Layer views describe blobs that are gone now (engine/layer-views.ts writes them with mkdir + rename).
    // Slots stay: they explain the next miss.
    if (options.all) await rm(join(store.root, 'views'), { recursive: true, force: true });
    const keptLayers = options.all ? 0 : (await cacheSummary(store)).layerBytes;
    // One budget for every kind, spent in this order: step layers (newest first), RUN snapshots and
    // cache mounts (most recently used first), then the blobs no step record points at (newest first).
    let left = Math.max(0, (options.keepBytes ?? Number.POSITIVE_INFINITY) - keptLayers);
    const snapshotRoot = defaultSnapshotRoot(store.root);
    const snapshots = await pruneSnapshots(snapshotRoot, {
      keepBytes: options.all ? 0 : left,
      ...(options.all ? { also: [cacheMountsOf(store)] } : {}),
    });
    let cacheMountBytes = snapshots.alsoBytes;
    let bytes = blobs.bytes;
    if (!options.all && options.keepBytes !== undefined && snapshots.inUse.length === 0) {
      left = Math.max(0, left - (await snapshotUsage(snapshotRoot)).bytes);
      const mounts = await pruneCacheMounts(cacheMountsOf(store), left);
      cacheMountBytes += mounts.bytes;
      left = Math.max(0, left - mounts.keptBytes);
      bytes += (await pruneUnrecordedBlobs(store, left)).bytes;
    }
    return {
      records: blobs.records,
      bytes,
      snapshotLayers: snapshots.layers,
      snapshotBytes: snapshots.bytes,
      cacheMountBytes,
      inUse: snapshots.inUse,
    };
  });
  return 'done' in pruned ? pruned.done : { ...none, inUse: pruned.inUse };
}
