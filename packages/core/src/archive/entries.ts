/**
 * Reading what an archive holds, bounded and verified: small JSON entries (index.json, manifest.json,
 * configs) are refused past a size limit before they are read, and blobs are handed out only after
 * their bytes hash to their descriptor's digest (image/blob-range.ts: hash first, then stream from the
 * same open file).
 */
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { mebibytes, verifiedRange } from '../image/index.js';
import type { Digest } from '../oci/index.js';
import { ArchiveError } from './errors.js';
import type { TarEntry } from './tar-index.js';

/** Regular files in tar: `0` (and NUL, which the index reports as `0`) and `7` (contiguous). */
function isRegular(entry: TarEntry): boolean {
  return entry.type === '0' || entry.type === '7' || entry.type === '\0';
}

function notAFile(file: string, entry: TarEntry): ArchiveError {
  return new ArchiveError(
    'ARCHIVE_INVALID_ENTRY',
    `${file}: ${entry.name} is not a regular file in the archive (tar type ${JSON.stringify(entry.type)})`,
    { hint: 'blobs and documents in an archive are plain files; the archive is corrupt or hostile' },
  );
}

/** `ARCHIVE_INVALID_ENTRY` unless `entry` is a regular file (a link or device entry has no blob bytes). */
export function assertRegularEntry(file: string, entry: TarEntry): void {
  if (!isRegular(entry)) throw notAFile(file, entry);
}

/** The whole of a small entry (a JSON document); `ARCHIVE_TOO_LARGE` past `limit` bytes. */
export async function readSmallEntry(file: string, entry: TarEntry, limit: number): Promise<Buffer> {
  assertRegularEntry(file, entry);
  if (entry.size > limit) {
    throw new ArchiveError(
      'ARCHIVE_TOO_LARGE',
      `${file}: ${entry.name} is ${entry.size} bytes, past the ${mebibytes(limit)} limit for it`,
      {
        hint: 'index.json, manifest.json and configs are small JSON documents; this one is corrupt or hostile',
      },
    );
  }
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(entry.size);
    let done = 0;
    while (done < entry.size) {
      const { bytesRead } = await handle.read(buffer, done, entry.size - done, entry.offset + done);
      if (bytesRead === 0) {
        throw new ArchiveError('ARCHIVE_NOT_TAR', `${file} ends in the middle of ${entry.name}`, {
          hint: 'the archive is truncated; write or download it again',
        });
      }
      done += bytesRead;
    }
    return buffer;
  } finally {
    await handle.close();
  }
}

export interface ExpectedBlob {
  readonly digest: Digest;
  readonly size: number;
  /** For messages: `layer sha256:… in app.tar`. */
  readonly what: string;
}

/**
 * An entry's bytes, once they hash to `expected.digest`: a regular file of exactly `expected.size`
 * bytes, else `ARCHIVE_INVALID_ENTRY` / `ARCHIVE_BLOB_SIZE_MISMATCH` / `IMAGE_DIGEST_MISMATCH`.
 */
export async function openVerifiedEntry(
  file: string,
  entry: TarEntry,
  expected: ExpectedBlob,
): Promise<Readable> {
  assertRegularEntry(file, entry);
  if (entry.size !== expected.size) {
    throw new ArchiveError(
      'ARCHIVE_BLOB_SIZE_MISMATCH',
      `${expected.what}: the entry has ${entry.size} bytes, but its descriptor says ${expected.size}`,
      { hint: 'the archive is truncated or not what its manifest names; write it again' },
    );
  }
  const handle = await open(file, 'r');
  const stats = await handle.stat().catch(async (error) => {
    await handle.close();
    throw error;
  });
  return verifiedRange(handle, {
    start: entry.offset,
    digest: expected.digest,
    size: expected.size,
    what: expected.what,
    identity: `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}@${entry.offset}`,
  });
}
