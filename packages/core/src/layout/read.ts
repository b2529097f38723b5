/**
 * The source side: an OCI image layout directory as an {@link ImageIndex} (its `index.json`), and one
 * image picked out of it by name, digest or platform.
 */
import { constants, type Stats } from 'node:fs';
import { type FileHandle, lstat, open, readlink, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { isNotFound } from '../fsutil/files.js';
import {
  type Image,
  type ImageIndex,
  indexFromManifest,
  MANIFEST_LIMIT,
  mebibytes,
  type SelectOptions,
  selectImage,
  verifiedRange,
} from '../image/index.js';
import { type Descriptor, digestAlgorithm, digestHex, MediaType, parseDigest } from '../oci/index.js';
import { LayoutError } from './errors.js';

/** `<dir>/blobs/<algorithm>/<hex>` (the digest is validated first, so no path tricks). */
export function blobPath(dir: string, digest: string): string {
  return join(dir, ...blobNames(digest));
}

function blobNames(digest: string): string[] {
  const valid = parseDigest(digest);
  return ['blobs', digestAlgorithm(valid), digestHex(valid)];
}

function kindOf(stats: Stats): string {
  if (stats.isSymbolicLink()) return 'a symbolic link';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isSocket()) return 'a socket';
  if (stats.isDirectory()) return 'a directory';
  return 'not a regular file';
}

function notAFile(what: string, path: string, kind: string): LayoutError {
  return new LayoutError('LAYOUT_BLOB_NOT_A_FILE', `${what}: ${path} is ${kind}, not a regular file`, {
    hint: 'a layout holds its blobs and index.json as plain files; copy the layout with cp -L or skopeo, never link into it',
  });
}

// O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused right after, by fstat).
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Opens `path` for reading only if it is a regular file reached without following a symlink at any
 * step below `dir`: lstat first (a device is never opened), then `O_NOFOLLOW`, then fstat and the
 * kernel's own name for the open file (`/proc/self/fd`) — so a blob cannot be a link to a host file,
 * a FIFO that hangs, `/dev/zero`, or a file behind a symlinked `blobs/` directory.
 */
async function openRegular(
  dir: string,
  names: readonly string[],
  what: string,
): Promise<{ handle: FileHandle; stats: Stats }> {
  const path = join(dir, ...names);
  const before = await lstat(path);
  if (!before.isFile()) throw notAFile(what, path, kindOf(before));
  let handle: FileHandle;
  try {
    handle = await open(path, OPEN_FLAGS);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw notAFile(what, path, 'a symbolic link');
    throw error;
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw notAFile(what, path, kindOf(stats));
    const expected = join(await realpath(dir), ...names);
    const actual = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => realpath(path));
    if (actual !== expected) throw notAFile(what, path, `reached through a symbolic link (it is ${actual})`);
    return { handle, stats };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** A small file of the layout (index.json, oci-layout), whole, refused past `limit` bytes. */
async function readSmall(dir: string, name: string, limit: number): Promise<Buffer> {
  const path = join(dir, name);
  const { handle, stats } = await openRegular(dir, [name], `${dir}: ${name}`);
  try {
    if (stats.size > limit) {
      throw new LayoutError(
        'LAYOUT_TOO_LARGE',
        `${path} is ${stats.size} bytes, past the ${mebibytes(limit)} limit for ${name}`,
        { hint: 'an index.json lists images in a few KiB; this one is corrupt or hostile' },
      );
    }
    const buffer = Buffer.alloc(stats.size);
    let done = 0;
    while (done < stats.size) {
      const { bytesRead } = await handle.read(buffer, done, stats.size - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buffer.subarray(0, done);
  } finally {
    await handle.close();
  }
}

/**
 * Opens a layout blob, verified: a regular file (see {@link openRegular}) of the descriptor's size
 * whose bytes hash to its digest before any byte is returned (image/blob-range.ts says why hashing
 * first and streaming from the same descriptor is enough). `LAYOUT_BLOB_MISSING` when it is not
 * there, `LAYOUT_BLOB_NOT_A_FILE`, `IMAGE_SIZE_MISMATCH` or `IMAGE_DIGEST_MISMATCH` when it is not it.
 */
export async function openBlob(dir: string, descriptor: Descriptor): Promise<Readable> {
  const what = `${descriptor.mediaType} ${descriptor.digest} in ${dir}`;
  let opened: { handle: FileHandle; stats: Stats };
  try {
    opened = await openRegular(dir, blobNames(descriptor.digest), what);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    throw new LayoutError(
      'LAYOUT_BLOB_MISSING',
      `${descriptor.mediaType} ${descriptor.digest} is missing from ${dir}`,
      {
        hint: 'the layout is incomplete (a partial copy, or a platform that was not exported); write it again',
        cause: error,
      },
    );
  }
  const { handle, stats } = opened;
  if (stats.size !== descriptor.size) {
    await handle.close();
    throw new LayoutError(
      'LAYOUT_BLOB_SIZE_MISMATCH',
      `${what}: the file has ${stats.size} bytes, but its descriptor says ${descriptor.size}`,
      { hint: 'the blob is truncated or not what the manifest names; write the layout again' },
    );
  }
  return verifiedRange(handle, {
    start: 0,
    digest: parseDigest(descriptor.digest),
    size: descriptor.size,
    what,
    identity: `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`,
  });
}

/** Reads `<dir>/oci-layout` and `<dir>/index.json`; the index lists what the layout holds. */
export async function openLayout(dir: string): Promise<ImageIndex> {
  let header: Buffer;
  try {
    header = await readSmall(dir, 'oci-layout', 64 * 1024);
  } catch (error) {
    if (error instanceof LayoutError) throw error;
    throw new LayoutError('LAYOUT_NOT_A_LAYOUT', `${dir} is not an OCI image layout (no oci-layout file)`, {
      hint: 'point at a directory written by wharf, skopeo (oci:DIR) or BuildKit (type=oci,tar=false)',
      cause: error,
    });
  }
  let version: unknown;
  try {
    version = (JSON.parse(header.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
  } catch (cause) {
    throw new LayoutError('LAYOUT_NOT_A_LAYOUT', `${dir}/oci-layout is not JSON`, { cause });
  }
  if (version !== '1.0.0') {
    throw new LayoutError(
      'LAYOUT_UNSUPPORTED_VERSION',
      `${dir} has image layout version ${JSON.stringify(version)}`,
      {
        hint: 'wharf reads image layout version 1.0.0',
      },
    );
  }
  let raw: Buffer;
  try {
    raw = await readSmall(dir, 'index.json', MANIFEST_LIMIT);
  } catch (cause) {
    if (cause instanceof LayoutError) throw cause;
    throw new LayoutError('LAYOUT_NOT_A_LAYOUT', `${dir} has no index.json`, {
      hint: 'the layout is incomplete; write it again',
      cause,
    });
  }
  return indexFromManifest({
    rawManifest: new Uint8Array(raw),
    mediaType: MediaType.ociIndex,
    blob: (descriptor) => openBlob(dir, descriptor),
  });
}

export type ReadLayoutOptions = Omit<SelectOptions, 'source'>;

/**
 * One image from the layout at `dir`: by `ref` (a ref-name annotation such as `latest`, or an image
 * name such as `hello`), by `digest`, or the only one; an index entry is resolved by `platform`.
 */
export async function readLayout(dir: string, options: ReadLayoutOptions = {}): Promise<Image> {
  return selectImage(await openLayout(dir), { ...options, source: dir });
}
