/**
 * A blob that lies in a file someone else wrote (a layout's `blobs/sha256/<hex>`, an entry of an
 * archive), handed out only after its bytes were hashed to the digest its descriptor promises.
 *
 * Why hash first and then stream from the same open file, rather than copy into the store: the open
 * file pins the inode, so the second pass reads the bytes the first pass proved (nobody else's file
 * can be swapped in). Only a writer of that very file could change them in between, and then the
 * second pass's verifier fails the read at its end: what got out was that writer's own bytes, never a
 * host file's. A copy would cost a write of every blob; the memo below skips the first pass for a
 * file already verified in this process and unchanged since (same inode, size and change time).
 */
import { Readable } from 'node:stream';
import { createDigester, type Digest, digestAlgorithm } from '../oci/index.js';
import { ImageError } from './errors.js';
import { verified } from './stream.js';

/** Positional reads of the file that holds the blob (a `FileHandle` fits). */
export interface RangeFile {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

export interface BlobRange {
  /** Where the blob starts in the file. */
  readonly start: number;
  readonly digest: Digest;
  readonly size: number;
  /** What the blob is, for messages (`layer sha256:… in ./base`). */
  readonly what: string;
  /**
   * Names this file's current content (device, inode, size, change time, start): a blob verified under
   * the same identity earlier in this process is not hashed again. Omit to always hash.
   */
  readonly identity?: string;
}

const CHUNK = 1024 * 1024;
/** Identities already verified (bounded: a long-lived process forgets the oldest). */
const verifiedIdentities = new Set<string>();
const MAX_REMEMBERED = 10_000;

async function* chunks(file: RangeFile, start: number, size: number, what: string) {
  let done = 0;
  while (done < size) {
    const buffer = Buffer.allocUnsafe(Math.min(CHUNK, size - done));
    const { bytesRead } = await file.read(buffer, 0, buffer.byteLength, start + done);
    if (bytesRead === 0) {
      throw new ImageError(
        'IMAGE_SIZE_MISMATCH',
        `${what}: the file ends after ${done} bytes, but its descriptor says ${size}`,
        { hint: 'the blob is truncated; write or fetch it again' },
      );
    }
    done += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

/**
 * The blob as a stream, once its bytes hash to `range.digest`; `IMAGE_DIGEST_MISMATCH` or
 * `IMAGE_SIZE_MISMATCH` (naming `range.what`) otherwise, before a single byte is handed out. Takes
 * ownership of `file`: it is closed when the stream ends or is destroyed, or on error.
 */
export async function verifiedRange(file: RangeFile, range: BlobRange): Promise<Readable> {
  try {
    if (range.identity === undefined || !verifiedIdentities.has(range.identity)) {
      const digester = createDigester(digestAlgorithm(range.digest));
      for await (const chunk of chunks(file, range.start, range.size, range.what)) digester.update(chunk);
      const actual = digester.digest();
      if (actual !== range.digest) {
        throw new ImageError(
          'IMAGE_DIGEST_MISMATCH',
          `${range.what}: content hashes to ${actual}, but its descriptor says ${range.digest}`,
          { hint: 'the blob is corrupt or not what the manifest names; nothing was read from it' },
        );
      }
      if (range.identity !== undefined) {
        if (verifiedIdentities.size >= MAX_REMEMBERED) verifiedIdentities.clear();
        verifiedIdentities.add(range.identity);
      }
    }
  } catch (error) {
    await file.close().catch(() => {});
    throw error;
  }
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await file.close().catch(() => {});
  };
  const iterator = chunks(file, range.start, range.size, range.what);
  const source = new Readable({
    highWaterMark: CHUNK,
    read() {
      iterator.next().then(
        (next) => {
          if (next.done) {
            void close().then(() => this.push(null));
          } else this.push(next.value);
        },
        (error: Error) => this.destroy(error),
      );
    },
    destroy(error, callback) {
      void close().then(() => callback(error));
    },
  });
  // The second pass is checked too: a file rewritten in between fails at its end.
  return verified(source, { digest: range.digest, size: range.size, what: range.what });
}
