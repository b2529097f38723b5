/**
 * Compression on demand, cached by diffID (BuildKit's way): the engine writes layers as plain tars,
 * and an output that needs gzip (or zstd) asks {@link compressedLayer} for the compressed form. The
 * first time, the tar is streamed through gzip (level 6 by default, Node's fixed header: mtime 0, no
 * name; blocks of the layer deflated on all cores, see `layer/parallel-gzip.ts`) or through the
 * system `zstd` program (`image/zstd.ts`: level 3 by default, all cores, same bytes for any thread
 * count) into the store, and `<store root>/compressed/<diffID hex>.json` (`<hex>.<format>-<level>.json`
 * for anything but gzip 6) records `{digest, size, scheme}` (temp file + rename); later builds find
 * the blob through that record and pay nothing. A record of another scheme (an older wharf's
 * single-stream gzip; zstd of another `zstd` version, whose bytes may differ) is ignored, so a cache
 * never gives another digest than a fresh one.
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
import type { CachedFormSource } from '../cache/remote-lazy.js';
import { writeFileAtomic } from '../fsutil/files.js';
import { Semaphore } from '../fsutil/limit.js';
import {
  type CompressionSpec,
  isDefaultCompression,
  layerMediaTypeFor,
  normalizeCompression,
} from '../image/compression.js';
import { layerFromStore, uncompressedSize } from '../image/partial.js';
import type { Layer } from '../image/types.js';
import { createZstdCompress, zstdVersion } from '../image/zstd.js';
import { createParallelGzip, GZIP_BLOCKS_SCHEME } from '../layer/parallel-gzip.js';
import { createDigester, type Digest, digestHex, parseDigest } from '../oci/index.js';
import type { BlobStore } from '../store/store.js';
import { assertTarDigest, layerMismatch } from './layer-views.js';

/** gzip level of compressed layers: part of what makes the image digest, so fixed. */
export const GZIP_LEVEL = 6;

/**
 * How a compressed form is made and recorded: `scheme` is what the recorded digests were made with
 * (records of any other scheme are not used), `file` the record's name suffix.
 */
interface Scheme {
  readonly spec: Required<CompressionSpec>;
  readonly scheme: string;
  readonly suffix: string;
}

/**
 * Fails now, before any build work, when `spec` cannot be written here: a bad level, or zstd without
 * the `zstd` program (`IMAGE_UNSUPPORTED_COMPRESSION`, hint: install zstd).
 */
export async function checkCompression(spec: CompressionSpec | undefined): Promise<void> {
  await schemeOf(spec);
}

/** The name of the scheme `spec` compresses with (what a remote cache records beside a compressed form). */
export async function compressionScheme(spec: CompressionSpec | undefined): Promise<string> {
  return (await schemeOf(spec)).scheme;
}

/** The scheme of `spec`; for zstd it names the program's version (its bytes may change between versions). */
async function schemeOf(spec: CompressionSpec | undefined): Promise<Scheme> {
  const full = normalizeCompression(spec);
  if (isDefaultCompression(full)) return DEFAULT_SCHEME;
  if (full.format === 'gzip') {
    return {
      spec: full,
      scheme: `gzip-${full.level}-${GZIP_BLOCKS_SCHEME}-verified`,
      suffix: `.gzip-${full.level}`,
    };
  }
  return {
    spec: full,
    scheme: `zstd-${full.level}-T0-check-v${await zstdVersion()}-verified`,
    suffix: `.zstd-${full.level}`,
  };
}

interface Compressed {
  readonly digest: Digest;
  readonly size: number;
}

/**
 * The compressed form of `layer` (gzip 6 unless `compression` says otherwise) when it is an
 * uncompressed tar (same diffID), else `layer` itself. Lazy. `compression` is checked now.
 */
export function compressedLayer(store: BlobStore, layer: Layer, compression?: CompressionSpec): Layer {
  const spec = normalizeCompression(compression);
  let resolved: Promise<Layer> | undefined;
  const get = () => {
    resolved ??= (async () => {
      const compressedType = layerMediaTypeFor(await layer.mediaType(), spec);
      if (compressedType === undefined) return layer;
      const diffId = await layer.diffId();
      await assertTarDigest(layer, diffId, `the layer with diffID ${diffId}`);
      const scheme = await schemeOf(spec);
      // A lazy hit from a remote cache that sent this form, made with this scheme: its blob as is.
      const ready = (layer as CachedFormSource).cachedForm?.(scheme.scheme);
      if (ready) return ready;
      const { digest, size } = await compressOnce(store, layer, diffId, scheme);
      return layerFromStore(store, {
        digest,
        size,
        diffId,
        mediaType: compressedType,
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
      return layerMediaTypeFor(mediaType, spec) ?? mediaType;
    },
    compressed: async () => (await get()).compressed(),
    // The tar is at hand: no need to gunzip what was just gzipped.
    uncompressed: () => layer.uncompressed(),
    uncompressedSize: () => uncompressedSize(layer),
  };
}

/** Compressions under way in this process, by store root and diffID: each layer is compressed once. */
const inFlight = new Map<string, { layer: Layer; done: Promise<Compressed> }>();

function compressOnce(store: BlobStore, layer: Layer, diffId: Digest, scheme: Scheme): Promise<Compressed> {
  const key = `${store.root}\0${diffId}\0${scheme.scheme}`;
  const pending = inFlight.get(key);
  // Another layer claiming the same diffID: its failure (it was not that tar) is not this one's.
  if (pending) {
    return pending.layer === layer
      ? pending.done
      : pending.done.catch(() => lookupOrCompress(store, layer, diffId, scheme));
  }
  const done = lookupOrCompress(store, layer, diffId, scheme).finally(() => inFlight.delete(key));
  inFlight.set(key, { layer, done });
  return done;
}

function recordPath(store: BlobStore, diffId: Digest, scheme: Scheme | undefined): string {
  return join(store.root, 'compressed', `${digestHex(diffId)}${scheme?.suffix ?? ''}.json`);
}

/** The scheme of wharf's default (gzip 6), known without asking any program. */
const DEFAULT_SCHEME: Scheme = {
  spec: { format: 'gzip', level: GZIP_LEVEL },
  scheme: `gzip-${GZIP_LEVEL}-${GZIP_BLOCKS_SCHEME}-verified`,
  suffix: '',
};

/** The gzip digest recorded for the tar `diffId` (written only after verifying), if its blob is stored. */
export async function knownGzipDigest(store: BlobStore, diffId: Digest): Promise<Digest | undefined> {
  return (await lookup(store, diffId, DEFAULT_SCHEME))?.digest;
}

async function lookup(store: BlobStore, diffId: Digest, scheme: Scheme): Promise<Compressed | undefined> {
  try {
    const record = JSON.parse(await readFile(recordPath(store, diffId, scheme), 'utf8')) as Partial<
      Compressed & { scheme: string }
    >;
    if (record.scheme !== scheme.scheme || typeof record.size !== 'number') return undefined;
    const digest = parseDigest(String(record.digest));
    return (await store.has(digest)) ? { digest, size: record.size } : undefined;
  } catch {
    return undefined;
  }
}

async function lookupOrCompress(
  store: BlobStore,
  layer: Layer,
  diffId: Digest,
  scheme: Scheme,
): Promise<Compressed> {
  const known = await lookup(store, diffId, scheme);
  if (known) return known;
  await layers.acquire();
  try {
    const compressed = await compress(store, layer, diffId, scheme.spec);
    await rememberCompressed(store, diffId, compressed, scheme);
    return compressed;
  } finally {
    layers.release();
  }
}

async function compress(
  store: BlobStore,
  layer: Layer,
  diffId: Digest,
  spec: Required<CompressionSpec>,
): Promise<Compressed> {
  // gzip: fixed header (mtime 0, no name) and fixed blocks: same tar, same bytes, on any machine.
  // zstd: one writer (the zstd program) everywhere, see image/zstd.ts.
  const compressor =
    spec.format === 'zstd'
      ? createZstdCompress({ level: spec.level })
      : createParallelGzip({ level: spec.level });
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
    await pipeline(await layer.uncompressed(), hashed, compressor, writer);
    const info = await writer.commit();
    return { digest: info.digest, size: info.size };
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/**
 * Records `compressed` as the compressed form of the tar `diffId` (temp file + rename): after a
 * compression here, and (default gzip scheme) for a layer gzipped in the pass that wrote it
 * (`writeLayer(…, { alsoGzip: true, gzipLevel: GZIP_LEVEL })`), so no later pass is needed.
 */
export async function rememberCompressed(
  store: BlobStore,
  diffId: Digest,
  compressed: Compressed,
  scheme: Scheme = DEFAULT_SCHEME,
): Promise<void> {
  const path = recordPath(store, diffId, scheme);
  // a record beside the blobs: lost in a crash, the layer is compressed again, so no fsync
  await writeFileAtomic(
    path,
    JSON.stringify({ digest: compressed.digest, size: compressed.size, scheme: scheme.scheme }),
    { durable: false },
  );
}

// At most one layer per core at a time (its blocks share the cores too; hashing is on the main thread).
const layers = new Semaphore(Math.max(2, availableParallelism()));
