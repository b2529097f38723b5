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
import { type CacheSummary, cacheSummary, type PruneOptions, pruneCache } from './cache/index.js';
import { diskBytes, pruneSnapshots, snapshotUsage } from './runtime/snapshot-gc.js';
import { defaultSnapshotRoot } from './runtime/snapshotter.js';
import type { BlobStore } from './store/store.js';

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
  /** Pids of running builds: their snapshots and cache mounts were left alone. */
  readonly inUse: readonly number[];
}

const cacheMountsOf = (store: BlobStore) => join(store.root, 'cache-mounts');

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

/**
 * `all`: every record, blob, snapshot and cache mount. `keepBytes`: the newest step layers up to that
 * size, then the most recently used snapshots in what is left of it; pulled base blobs stay.
 */
export async function pruneBuildCache(
  store: BlobStore,
  options: PruneOptions,
): Promise<BuildCachePruneResult> {
  const blobs = await pruneCache(store, options);
  // Layer views describe blobs that are gone now (engine/layer-views.ts writes them with mkdir + rename,
  // so a build running meanwhile only loses a cache entry). Slots stay: they explain the next miss.
  if (options.all) await rm(join(store.root, 'views'), { recursive: true, force: true });
  const keptLayers = options.all ? 0 : (await cacheSummary(store)).layerBytes;
  const snapshots = await pruneSnapshots(defaultSnapshotRoot(store.root), {
    keepBytes: options.all ? 0 : Math.max(0, (options.keepBytes ?? Number.POSITIVE_INFINITY) - keptLayers),
    ...(options.all ? { also: [cacheMountsOf(store)] } : {}),
  });
  return {
    records: blobs.records,
    bytes: blobs.bytes,
    snapshotLayers: snapshots.layers,
    snapshotBytes: snapshots.bytes,
    cacheMountBytes: snapshots.alsoBytes,
    inUse: snapshots.inUse,
  };
}
