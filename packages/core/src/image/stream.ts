/**
 * Stream plumbing shared by the partial helpers and by every medium: hash a stream in one pass,
 * decompress by media type, verify while copying. Nothing here buffers more than one chunk, except
 * {@link readAll}, which is for small JSON documents only.
 */
import { type Duplex, pipeline, type Readable, Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { createDigester, type Digest, digestAlgorithm, layerCompression } from '../oci/index.js';
import { ImageError } from './errors.js';
import { canDecompressZstd, createZstdDecompress } from './zstd.js';

/** The digest and byte count of everything `stream` yields (consumes it). */
export async function hashStream(stream: Readable): Promise<{ digest: Digest; size: number }> {
  const digester = createDigester();
  for await (const chunk of stream) digester.update(chunk as Uint8Array);
  return { digest: digester.digest(), size: digester.size };
}

/** A stream the blob store opened: its file, the digest it holds, whether the stream verifies it. */
export interface StoredBlob {
  readonly file: string;
  readonly digest: Digest;
  readonly verified: boolean;
  /**
   * The error the verifying stream fails with when the file hashes to `actual`: for a reader that
   * reads {@link file} itself instead of the stream, and checks what it read.
   */
  readonly corrupt?: (actual: Digest) => Error;
}

/**
 * What the store says about a stream it opened (store/store.ts sets it under this registered symbol),
 * or undefined for any other stream. Lets a medium link the file, or skip hashing it again.
 */
export function storedBlobOf(stream: Readable): StoredBlob | undefined {
  const stored = (stream as unknown as Record<symbol, StoredBlob | undefined>)[Symbol.for('wharf.blob-file')];
  return typeof stored?.file === 'string' ? stored : undefined;
}

/** The largest manifest or index read (what distribution and containerd accept). */
export const MANIFEST_LIMIT = 4 * 1024 * 1024;
/** The largest image config read (configs with long histories reach a few hundred KiB). */
export const CONFIG_LIMIT = 16 * 1024 * 1024;

/** `n` bytes in MiB, for messages. */
export function mebibytes(n: number): string {
  return `${Math.round((n / 1024 / 1024) * 100) / 100} MiB`;
}

/** `IMAGE_TOO_LARGE`: a document of `size` bytes (or more) is past `limit`. */
export function tooLarge(what: string, size: number | undefined, limit: number): ImageError {
  return new ImageError(
    'IMAGE_TOO_LARGE',
    `${what} is ${size === undefined ? 'more than' : `${size} bytes,`} past the ${mebibytes(limit)} limit for such documents`,
    { hint: 'manifests, indexes and configs are small JSON documents; this one is corrupt or hostile' },
  );
}

/**
 * The whole stream in memory. For manifests and configs; fails with `IMAGE_TOO_LARGE` past `limit`
 * bytes (default 64 MiB), naming `what` and the limit.
 */
export async function readAll(
  stream: Readable,
  limit = 64 * 1024 * 1024,
  what = 'document',
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).byteLength;
    if (size > limit) {
      stream.destroy();
      throw tooLarge(what, undefined, limit);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function zstdWhat(mediaType: string): string {
  return `a zstd layer (${mediaType})`;
}

/** Throws `IMAGE_UNSUPPORTED_COMPRESSION` now, rather than on first read, if `mediaType` can't be decompressed here. */
export function assertDecompressible(mediaType: string): void {
  if (layerCompression(mediaType) === 'zstd' && !canDecompressZstd())
    createZstdDecompress({ what: zstdWhat(mediaType) });
}

/**
 * A transform that decompresses a layer of `mediaType`, or `undefined` for an uncompressed layer.
 * Media types that are not layer types are taken as gzip (the common case for unknown vendor types).
 * zstd is Node's decoder (≥ 22.15) or the system `zstd` program (zstd.ts); with neither, throws
 * `IMAGE_UNSUPPORTED_COMPRESSION` naming the fix.
 */
export function decompressor(mediaType: string): Transform | Duplex | undefined {
  const compression = layerCompression(mediaType) ?? 'gzip';
  if (compression === 'none') return undefined;
  // 1 MiB output chunks: with the default 16 KiB, gunzipping a 120 MB base layer took 1.7–2.4 s instead
  // of 0.3 s (a thread-pool round trip and a stream hop per chunk).
  if (compression === 'gzip') return zlib.createGunzip({ chunkSize: 1024 * 1024 });
  return createZstdDecompress({ what: zstdWhat(mediaType) });
}

/** `source` decompressed according to `mediaType` (the same stream for an uncompressed layer). */
export function decompress(source: Readable, mediaType: string): Readable {
  let transform: Transform | Duplex | undefined;
  try {
    transform = decompressor(mediaType);
  } catch (error) {
    source.destroy();
    throw error;
  }
  if (transform === undefined) return source;
  return pipeline(source, transform, () => {});
}

export interface Expected {
  readonly digest?: Digest;
  readonly size?: number;
  /** What the bytes are, for the error message (`layer 2 of busybox`). */
  readonly what: string;
}

/**
 * A pass-through that hashes and counts, and fails the stream at its end (before the last callback)
 * with `IMAGE_DIGEST_MISMATCH` / `IMAGE_SIZE_MISMATCH` when the bytes are not what was promised.
 * A sink that pipes through it never commits content that does not match its descriptor.
 */
export function verifier(expected: Expected): Transform {
  const digester = createDigester(expected.digest ? digestAlgorithm(expected.digest) : 'sha256');
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      digester.update(chunk);
      if (expected.size !== undefined && digester.size > expected.size) {
        callback(sizeMismatch(expected, digester.size, 'more than'));
        return;
      }
      callback(null, chunk);
    },
    flush(callback) {
      if (expected.size !== undefined && digester.size !== expected.size) {
        callback(sizeMismatch(expected, digester.size, ''));
        return;
      }
      const actual = digester.digest();
      if (expected.digest !== undefined && actual !== expected.digest) {
        callback(
          new ImageError(
            'IMAGE_DIGEST_MISMATCH',
            `${expected.what}: content hashes to ${actual}, but its descriptor says ${expected.digest}`,
            { hint: 'the source changed or is corrupt; fetch or build it again' },
          ),
        );
        return;
      }
      callback();
    },
  });
}

function sizeMismatch(expected: Expected, actual: number, more: string): ImageError {
  return new ImageError(
    'IMAGE_SIZE_MISMATCH',
    `${expected.what}: read ${more ? `${more} ` : ''}${actual} bytes, but its descriptor says ${expected.size}`,
    { hint: 'the source changed or is corrupt; fetch or build it again' },
  );
}

/** `source` piped through a {@link verifier}. */
export function verified(source: Readable, expected: Expected): Readable {
  return pipeline(source, verifier(expected), () => {});
}
