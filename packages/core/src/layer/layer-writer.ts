/**
 * Planned entries → a layer blob in the store, in one streaming pass: with `compression: 'none'` (what
 * the engine uses, like BuildKit) tar → sha256 → `BlobStore.putWriter()`, so digest = diffID and the
 * media type is `application/vnd.oci.image.layer.v1.tar`; with `'gzip'` (the default)
 * tar → sha256 (diffID) → gzip → sha256 (digest) → store.
 * With `compression: 'none'` and `alsoGzip`, the tar is gzipped in the same pass into a second blob,
 * for a layer an output will distribute anyway: the gzip then runs while the tar is written instead of
 * after it.
 * Nothing is buffered beyond stream high-water marks, and no state is shared between calls, so
 * independent layers can be written concurrently.
 */
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDigester, type Digest, type Digester, MediaType } from '../oci/index.js';
import type { BlobStore } from '../store/index.js';
import { BufferPool } from '../tar/output.js';
import type { LayerEntry } from './entry.js';
import { createParallelGzip } from './parallel-gzip.js';
import { sourceDateEpoch, type TarWriteOptions, tarChunks, tarStream } from './tar-writer.js';

export interface WriteLayerOptions {
  /** mtime of every entry in seconds; default `SOURCE_DATE_EPOCH` from `env`, else 0. */
  readonly mtime?: number;
  /** Where `SOURCE_DATE_EPOCH` is read; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** `none`: store the tar itself (digest = diffID); `gzip` (default): store it gzip-compressed. */
  readonly compression?: 'none' | 'gzip';
  /** gzip level 1–9; default 6 (zlib's and Go's default). Part of what makes the digest. */
  readonly gzipLevel?: number;
  /** With `compression: 'none'`: also store the tar's gzip form, made in the same pass (see `gzip`). */
  readonly alsoGzip?: boolean;
  /** Told the sha256 of each file read from disk, from the bytes written (see `tarStream`). */
  readonly onFileHashed?: TarWriteOptions['onFileHashed'];
}

export interface LayerDescriptor {
  /** sha256 of the blob as stored (the tar itself when uncompressed). */
  readonly digest: Digest;
  /** sha256 of the uncompressed tar (the config's `rootfs.diff_ids` entry). */
  readonly diffId: Digest;
  /** Size of the blob as stored, in bytes. */
  readonly size: number;
  /** Uncompressed tar size in bytes. */
  readonly uncompressedSize: number;
  readonly mediaType: typeof MediaType.ociLayer | typeof MediaType.ociLayerGzip;
  /** With `alsoGzip`: the gzip form's blob (same diffID). */
  readonly gzip?: { readonly digest: Digest; readonly size: number };
}

function tap(digester: Digester): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      digester.update(chunk);
      callback(null, chunk);
    },
  });
}

/** Writes a layer of `entries` (in their order) into `store` and describes it. */
export async function writeLayer(
  store: BlobStore,
  entries: Iterable<LayerEntry> | AsyncIterable<LayerEntry>,
  options: WriteLayerOptions = {},
): Promise<LayerDescriptor> {
  const tar: TarWriteOptions = {
    mtime: options.mtime ?? sourceDateEpoch(options.env),
    ...(options.onFileHashed ? { onFileHashed: options.onFileHashed } : {}),
  };
  if (options.compression === 'none') {
    return options.alsoGzip
      ? writeTarAndGzip(store, entries, tar, options.gzipLevel ?? 6)
      : writeTarLayer(store, entries, tar);
  }
  const diff = createDigester('sha256');
  const compressed = createDigester('sha256');
  // Fixed header (mtime 0, no name) and fixed blocks deflated on all cores: same input, same bytes.
  const gzip = createParallelGzip({ level: options.gzipLevel ?? 6 });
  const writer = store.putWriter();
  try {
    await pipeline(tarStream(entries, tar), tap(diff), gzip, tap(compressed), writer);
    const info = await writer.commit();
    if (info.digest !== compressed.digest())
      throw new Error(`store digest ${info.digest} != ${compressed.digest()}`);
    return {
      digest: info.digest,
      diffId: diff.digest(),
      size: info.size,
      uncompressedSize: diff.size,
      mediaType: MediaType.ociLayerGzip,
    };
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** A plain tar blob describes itself: its digest is the diffID, its size the uncompressed size. */
function tarDescriptor(blob: { readonly digest: Digest; readonly size: number }): LayerDescriptor {
  return {
    digest: blob.digest,
    diffId: blob.digest,
    size: blob.size,
    uncompressedSize: blob.size,
    mediaType: MediaType.ociLayer,
  };
}

/** The tar itself as the blob: one pass, the store's digest is the diffID. */
async function writeTarLayer(
  store: BlobStore,
  entries: Iterable<LayerEntry> | AsyncIterable<LayerEntry>,
  tar: TarWriteOptions,
): Promise<LayerDescriptor> {
  const writer = store.putWriter();
  try {
    await pump(entries, tar, [writer]);
    return tarDescriptor(await writer.commit());
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** The tar as the blob, and its gzip as a second blob, from one pass over the entries. */
async function writeTarAndGzip(
  store: BlobStore,
  entries: Iterable<LayerEntry> | AsyncIterable<LayerEntry>,
  tar: TarWriteOptions,
  level: number,
): Promise<LayerDescriptor> {
  const tarWriter = store.putWriter();
  const gzipWriter = store.putWriter();
  const gzip = createParallelGzip({ level });
  const gzipped = pipeline(gzip, gzipWriter);
  gzipped.catch(() => {}); // awaited below, after the tar is written (or failed)
  try {
    await pump(entries, tar, [tarWriter, gzip]);
    await gzipped;
    const blob = await tarWriter.commit();
    const gz = await gzipWriter.commit();
    return { ...tarDescriptor(blob), gzip: { digest: gz.digest, size: gz.size } };
  } catch (error) {
    gzip.destroy(error as Error); // tears the gzip pipeline down
    await gzipped.catch(() => {});
    await Promise.all([tarWriter.abort(), gzipWriter.abort()]);
    throw error;
  }
}

/**
 * Writes the tar of `entries` into each of `sinks` and ends them, at the pace of the slowest. The
 * chunks come from a small pool: one is written while the next is filled, and each goes back to the
 * pool once every sink has taken it (their write callbacks), so the tar is a few buffers reused, not
 * a fresh MiB per MiB. The first sink error, or a failure to read the entries, rejects.
 */
async function pump(
  entries: Iterable<LayerEntry> | AsyncIterable<LayerEntry>,
  tar: TarWriteOptions,
  sinks: readonly Writable[],
): Promise<void> {
  const pool = new BufferPool();
  let failed: Error | undefined;
  const onError = (error: Error) => {
    failed ??= error;
  };
  // kept on: a sink that fails later (after its last write) must not be an unhandled 'error'
  for (const sink of sinks) sink.on('error', onError);
  let writing: Promise<unknown> | undefined;
  try {
    for await (const chunk of tarChunks(entries, tar, pool)) {
      await writing;
      if (failed) throw failed;
      writing = Promise.all(sinks.map((sink) => writeChunk(sink, chunk))).then(() => pool.release(chunk));
      writing.catch(() => {}); // awaited before the next chunk or below
    }
    await writing;
    if (failed) throw failed;
    await Promise.all(sinks.map((sink) => endSink(sink)));
    if (failed) throw failed;
  } finally {
    await writing?.catch(() => {}); // no write in flight once this returns
  }
}

function writeChunk(sink: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    sink.write(chunk, (error) => (error ? reject(error) : resolve()));
  });
}

function endSink(sink: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    sink.end((error?: Error | null) => (error ? reject(error) : resolve()));
  });
}
