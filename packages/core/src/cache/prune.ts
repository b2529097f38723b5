/**
 * `wharf cache ls|prune`: what the step cache holds, and pruning it to a size — oldest records first,
 * deleting the layer blobs no remaining record points at. Blobs pulled for base images are kept unless
 * `all` is set.
 */
import type { Digest } from '../oci/index.js';
import type { BlobStore } from '../store/store.js';
import { recordBytes, StepCache } from './step-cache.js';

export interface CacheSummary {
  readonly records: number;
  /** Compressed bytes of the layers the records point at. */
  readonly layerBytes: number;
  /** Every blob in the store (layers, configs, pulled images), in bytes. */
  readonly storeBytes: number;
  readonly blobs: number;
}

export async function cacheSummary(store: BlobStore): Promise<CacheSummary> {
  const records = await new StepCache(store.root).list();
  const digests = await store.list();
  let storeBytes = 0;
  for (const digest of digests) storeBytes += await store.size(digest).catch(() => 0);
  return { records: records.length, layerBytes: recordBytes(records), storeBytes, blobs: digests.length };
}

export interface PruneOptions {
  /** Keep at most this many bytes of cached layers (newest kept). */
  readonly keepBytes?: number;
  /** Remove every record and every blob. */
  readonly all?: boolean;
}

export async function pruneCache(
  store: BlobStore,
  options: PruneOptions,
): Promise<{ records: number; bytes: number }> {
  const cache = new StepCache(store.root);
  const records = await cache.list(); // newest first
  let kept = 0;
  const keep = new Set<string>();
  for (const record of records) {
    const size = record.layer?.size ?? 0;
    if (options.all || kept + size > (options.keepBytes ?? Number.POSITIVE_INFINITY)) continue;
    kept += size;
    keep.add(record.key);
  }
  const removed = await cache.prune((record) => keep.has(record.key));
  const stillUsed = new Set<Digest>(
    records.filter((r) => keep.has(r.key) && r.layer).map((r) => (r.layer as { digest: Digest }).digest),
  );
  const candidates = options.all
    ? await store.list()
    : records.filter((r) => !keep.has(r.key) && r.layer).map((r) => (r.layer as { digest: Digest }).digest);
  let bytes = 0;
  for (const digest of new Set(candidates)) {
    if (stillUsed.has(digest)) continue;
    const size = await store.size(digest).catch(() => 0);
    if (await store.delete(digest)) bytes += size;
  }
  return { records: removed, bytes };
}
