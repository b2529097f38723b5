/**
 * Compression on demand, cached by diffID (BuildKit's way): the engine writes layers as plain tars,
 * and an output that needs gzip asks {@link compressedLayer} for the compressed form. The first time,
 * the tar is streamed through gzip (level 6, Node's fixed header: mtime 0, no name; blocks of the
 * layer deflated on all cores, see `layer/parallel-gzip.ts`) into the store and
 * `<store root>/compressed/<diffID hex>.json` records `{digest, size, scheme}` (temp file + rename);
 * later builds find the blob through that record and pay nothing. A record of another scheme (an older
 * wharf's single-stream gzip) is ignored, so a cache never gives another digest than a fresh one.
 *
 * The diffID of a base layer is only what its image's config claims: the tar is hashed as it is
 * compressed and a record is written only when it hashes to that diffID (`ENGINE_LAYER_MISMATCH`
 * otherwise, nothing stored), so a hostile image cannot make a later build ship its layer for
 * another's diffID. Records written before this check (scheme without `verified`) are not used.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { writeFileAtomic } from '../fsutil/files.js';
import { Semaphore } from '../fsutil/limit.js';
import { layerFromStore, uncompressedSize } from '../image/partial.js';
import type { Layer } from '../image/types.js';
import { createParallelGzip, GZIP_BLOCK_SIZE } from '../layer/parallel-gzip.js';
import { createDigester, type Digest, digestHex, MediaType, parseDigest } from '../oci/index.js';
import type { BlobStore } from '../store/store.js';
import { assertTarDigest, layerMismatch } from './layer-views.js';

/** gzip level of compressed layers: part of what makes the image digest, so fixed. */
export const GZIP_LEVEL = 6;
/** What the recorded digests were made with; records of any other scheme are not used. */
const SCHEME = `gzip-${GZIP_LEVEL}-blocks-${GZIP_BLOCK_SIZE}-verified`;

/** Uncompressed layer media type → its gzip counterpart; other layers are returned unchanged. */
const GZIP_OF: Readonly<Record<string, string>> = {
  [MediaType.ociLayer]: MediaType.ociLayerGzip,
  [MediaType.dockerLayer]: MediaType.dockerLayerGzip,
};

interface Compressed {
  readonly digest: Digest;
  readonly size: number;
}

/** The gzip form of `layer` when it is an uncompressed tar (same diffID), else `layer` itself. Lazy. */
export function compressedLayer(store: BlobStore, layer: Layer): Layer {
  let resolved: Promise<Layer> | undefined;
  const get = () => {
    resolved ??= (async () => {
      const gzipType = GZIP_OF[await layer.mediaType()];
      if (gzipType === undefined) return layer;
      const diffId = await layer.diffId();
      await assertTarDigest(layer, diffId, `the layer with diffID ${diffId}`);
      const { digest, size } = await compressOnce(store, layer, diffId);
      return layerFromStore(store, {
        digest,
        size,
        diffId,
        mediaType: gzipType,
        uncompressedSize: await uncompressedSize(layer),
      });
    })();
    return resolved;
  };
  return {
    digest: async () => (await get()).digest(),
    diffId: () => layer.diffId(),
    size: async () => (await get()).size(),
    mediaType: async () => {
      const mediaType = await layer.mediaType();
      return GZIP_OF[mediaType] ?? mediaType;
    },
    compressed: async () => (await get()).compressed(),
    // The tar is at hand: no need to gunzip what was just gzipped.
    uncompressed: () => layer.uncompressed(),
    uncompressedSize: () => uncompressedSize(layer),
  };
}

/** Compressions under way in this process, by store root and diffID: each layer is compressed once. */
const inFlight = new Map<string, { layer: Layer; done: Promise<Compressed> }>();

function compressOnce(store: BlobStore, layer: Layer, diffId: Digest): Promise<Compressed> {
  const key = `${store.root}\0${diffId}`;
  const pending = inFlight.get(key);
  // Another layer claiming the same diffID: its failure (it was not that tar) is not this one's.
  if (pending) {
    return pending.layer === layer
      ? pending.done
      : pending.done.catch(() => lookupOrCompress(store, layer, diffId));
  }
  const done = lookupOrCompress(store, layer, diffId).finally(() => inFlight.delete(key));
  inFlight.set(key, { layer, done });
  return done;
}

function recordPath(store: BlobStore, diffId: Digest): string {
  return join(store.root, 'compressed', `${digestHex(diffId)}.json`);
}

/** The gzip digest recorded for the tar `diffId` (written only after verifying), if its blob is stored. */
export async function knownGzipDigest(store: BlobStore, diffId: Digest): Promise<Digest | undefined> {
  return (await lookup(store, diffId))?.digest;
}

async function lookup(store: BlobStore, diffId: Digest): Promise<Compressed | undefined> {
  try {
    const record = JSON.parse(await readFile(recordPath(store, diffId), 'utf8')) as Partial<
      Compressed & { scheme: string }
    >;
    if (record.scheme !== SCHEME || typeof record.size !== 'number') return undefined;
    const digest = parseDigest(String(record.digest));
    return (await store.has(digest)) ? { digest, size: record.size } : undefined;
  } catch {
    return undefined;
  }
}

async function lookupOrCompress(store: BlobStore, layer: Layer, diffId: Digest): Promise<Compressed> {
  const known = await lookup(store, diffId);
  if (known) return known;
  await layers.acquire();
  try {
    const compressed = await compress(store, layer, diffId);
    await rememberCompressed(store, diffId, compressed);
    return compressed;
  } finally {
    layers.release();
  }
}

async function compress(store: BlobStore, layer: Layer, diffId: Digest): Promise<Compressed> {
  // Fixed header (mtime 0, no name) and fixed blocks: same tar, same bytes, on any machine.
  const gzip = createParallelGzip({ level: GZIP_LEVEL });
  const writer = store.putWriter();
  const digester = createDigester();
  try {
    const hashed = async function* (tar: AsyncIterable<Uint8Array>) {
      for await (const chunk of tar) {
        digester.update(chunk);
        yield chunk;
      }
      const actual = digester.digest();
      if (actual !== diffId) throw layerMismatch(`the layer with diffID ${diffId}`, diffId, actual);
    };
    await pipeline(await layer.uncompressed(), hashed, gzip, writer);
    const info = await writer.commit();
    return { digest: info.digest, size: info.size };
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/**
 * Records `compressed` as the gzip form of the tar `diffId` (temp file + rename): after a compression
 * here, and for a layer gzipped in the pass that wrote it (`writeLayer(…, { alsoGzip: true,
 * gzipLevel: GZIP_LEVEL })`), so no later pass is needed.
 */
export async function rememberCompressed(
  store: BlobStore,
  diffId: Digest,
  compressed: Compressed,
): Promise<void> {
  const path = recordPath(store, diffId);
  // a record beside the blobs: lost in a crash, the layer is compressed again, so no fsync
  await writeFileAtomic(
    path,
    JSON.stringify({ digest: compressed.digest, size: compressed.size, scheme: SCHEME }),
    { durable: false },
  );
}

// At most one layer per core at a time (its blocks share the cores too; hashing is on the main thread).
const layers = new Semaphore(Math.max(2, availableParallelism()));
