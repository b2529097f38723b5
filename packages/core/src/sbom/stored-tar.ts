/**
 * A layer tar the blob store keeps as a file (digest = diffID: what the engine writes, and pulled base
 * layers once kept, see engine/kept-tar.ts), read for the catalogue without gunzip or hashing: the tar
 * reader walks the headers and skips every member the catalogue does not read, by moving the file
 * offset instead of reading. The store verified the file when it was written; every header read is
 * still checked by the tar reader, and a file that ends early is `TAR_TRUNCATED` as a stream would be.
 */
import { type FileHandle, open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { readForward } from '../fsutil/files.js';
import { storedBlobOf } from '../image/index.js';
import type { Digest } from '../oci/index.js';
import type { SkippingInput } from '../tar/reader.js';

/**
 * Reads per call: headers of small files sit together, large members are skipped whole. One buffer is
 * reused for every read (the catalogue copies the few files it keeps): fresh 256 KiB buffers cost a
 * third of the catalogue's CPU in allocation and garbage collection on the issue-17 bench layer.
 */
const CHUNK = 1024 * 1024;

/** A tar file read forward from offset 0, which can move past bytes without reading them. */
export interface StoredTarInput extends SkippingInput {
  close(): Promise<void>;
}

/**
 * The stored tar file behind `stream` when it is the layer's own tar (its digest is `diffId`), opened
 * for skipping reads; `undefined` for any other stream (a gunzipped blob, a registry, a layout).
 */
export async function storedTarInput(stream: Readable, diffId: Digest): Promise<StoredTarInput | undefined> {
  const stored = storedBlobOf(stream);
  if (stored?.digest !== diffId) return undefined;
  let handle: FileHandle;
  try {
    handle = await open(stored.file, 'r');
  } catch {
    return undefined; // gone since (a prune): the stream still reads it, or fails with the store's error
  }
  const close = () => handle.close().catch(() => {});
  const size = await handle.stat().then(
    (stat) => stat.size,
    async (error: unknown) => {
      await close();
      throw error;
    },
  );
  return { ...readForward(handle, size, CHUNK, true), close };
}
