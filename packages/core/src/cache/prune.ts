/**
 * `wharf cache ls|prune`: what the step cache holds, and pruning it to a size — oldest records first,
 * deleting the layer blobs no remaining record points at. Blobs pulled for base images, and the tars
 * of their layers kept after first use (engine/kept-tar.ts), are kept unless `all` is set.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type Digest, digestHex, isDigest } from '../oci/index.js';
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
    // An uncompressed layer's gzip copy (engine/compress.ts records it by diffID) goes with it.
    const compressed = await compressedCopy(store, digest);
    if (compressed && !stillUsed.has(compressed)) {
      const compressedSize = await store.size(compressed).catch(() => 0);
      if (await store.delete(compressed)) bytes += compressedSize;
    }
  }
  await removeOldPositions(store.root);
  if (options.all) {
    await rm(join(store.root, 'compressed'), { recursive: true, force: true });
    await rm(join(store.root, 'bases'), { recursive: true, force: true }); // engine/base-records.ts
  }
  return { records: removed, bytes };
}

/**
 * Position records of an older format (`slots/<hash>.json`): nothing reads them since `.v2`
 * (step-cache.ts), so they only took space. Current ones stay, even with `--all`: they explain the
 * next miss ("no record of an identical step").
 */
async function removeOldPositions(root: string): Promise<void> {
  const dir = join(root, 'slots');
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name.endsWith('.json')) await rm(join(dir, name), { force: true });
  }
}

/** The gzip copy recorded for the tar layer `diffId` (`<root>/compressed/<hex>.json`), forgetting it. */
async function compressedCopy(store: BlobStore, diffId: Digest): Promise<Digest | undefined> {
  const record = join(store.root, 'compressed', `${digestHex(diffId)}.json`);
  try {
    const { digest } = JSON.parse(await readFile(record, 'utf8')) as { digest?: string };
    await rm(record, { force: true });
    return typeof digest === 'string' && isDigest(digest) ? digest : undefined;
  } catch {
    return undefined;
  }
}

/** What {@link pruneUnrecordedBlobs} removed. */
export interface UnrecordedPruneResult {
  readonly blobs: number;
  readonly bytes: number;
  /** Bytes of blobs it kept (for the caller's budget). */
  readonly keptBytes: number;
}

/**
 * `--keep-storage` for the blobs no step record points at — pulled base images, the gzip copies of
 * layers, blobs fetched for a remote cache's mounts: the most recently written kept up to `keepBytes`,
 * the rest deleted; then the records describing deleted blobs go too (`compressed/`, layer `views/`).
 * A base whose blobs went is pulled again by the next build (engine/base-records.ts checks them).
 */
export async function pruneUnrecordedBlobs(
  store: BlobStore,
  keepBytes: number,
): Promise<UnrecordedPruneResult> {
  const recorded = new Set<string>();
  for (const record of await new StepCache(store.root).list()) {
    if (record.layer) recorded.add(record.layer.digest);
  }
  const others: { digest: Digest; size: number; mtimeMs: number }[] = [];
  for (const digest of await store.list()) {
    if (recorded.has(digest)) continue;
    const st = await stat(store.path(digest)).catch(() => undefined);
    if (st) others.push({ digest, size: st.size, mtimeMs: st.mtimeMs });
  }
  others.sort((a, b) => b.mtimeMs - a.mtimeMs || (a.digest < b.digest ? -1 : 1));
  let keptBytes = 0;
  let blobs = 0;
  let bytes = 0;
  for (const blob of others) {
    if (keptBytes + blob.size <= keepBytes) {
      keptBytes += blob.size;
      continue;
    }
    if (await store.delete(blob.digest)) {
      blobs++;
      bytes += blob.size;
    }
  }
  if (blobs > 0) await forgetMissing(store);
  return { blobs, bytes, keptBytes };
}

/** Drops `compressed/` records and layer views whose blobs are no longer in the store. */
async function forgetMissing(store: BlobStore): Promise<void> {
  const present = new Set<string>((await store.list()).map((d) => digestHex(d)));
  const compressedDir = join(store.root, 'compressed');
  for (const name of await readdir(compressedDir).catch(() => [] as string[])) {
    const file = join(compressedDir, name);
    const digest = await readFile(file, 'utf8')
      .then((t) => (JSON.parse(t) as { digest?: string }).digest)
      .catch(() => undefined);
    if (typeof digest !== 'string' || !isDigest(digest) || !present.has(digestHex(digest)))
      await rm(file, { force: true });
  }
  // views/<diffID hex>.v3.json and views/pairs/<blob hex> (→ the diffID it holds), engine/layer-views.ts
  const views = join(store.root, 'views');
  const pairs = join(views, 'pairs');
  const described = new Set(present);
  for (const name of await readdir(pairs).catch(() => [] as string[])) {
    if (!present.has(name)) {
      await rm(join(pairs, name), { force: true });
      continue;
    }
    const diffId = await readFile(join(pairs, name), 'utf8').catch(() => '');
    if (isDigest(diffId.trim())) described.add(digestHex(diffId.trim() as Digest));
  }
  for (const name of await readdir(views).catch(() => [] as string[])) {
    const hex = /^([0-9a-f]{64})\./.exec(name)?.[1];
    if (hex && !described.has(hex)) await rm(join(views, name), { force: true });
  }
}
