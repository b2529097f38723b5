/**
 * Random access into an uncompressed tar file: one pass over the headers with the tar reader
 * (tar/reader.ts, the one tar parser), skipping the data without reading it, records where each
 * file's bytes are, so an entry can be streamed later with a ranged read — the way an archive becomes
 * a blob source without extracting it. The archive is untrusted (`push`/`inspect` of someone else's
 * file): the reader's checks (sizes, PAX records, checksums, truncation) apply, and an entry whose
 * claimed size runs past the end of the file is an error, however large the claim.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { readForward } from '../fsutil/files.js';
import { TarError, TarReader } from '../tar/reader.js';
import { ArchiveError } from './errors.js';

export interface TarEntry {
  /** Normalised: no leading `./` or `/`, no trailing `/`. */
  readonly name: string;
  /** The typeflag character (`0` file, `5` directory, `2` symlink…). */
  readonly type: string;
  /** Byte offset of the data in the file. */
  readonly offset: number;
  readonly size: number;
}

/** Headers are read in pieces of this size; data between them is skipped. */
const READ_SIZE = 64 * 1024;

export function normaliseName(name: string): string {
  return name.replace(/^(?:\.\/|\/)+/, '').replace(/\/+$/, '');
}

/** Reads the headers of the tar at `file`; the map is keyed by normalised name (the last entry wins). */
export async function indexTar(file: string): Promise<Map<string, TarEntry>> {
  const handle = await open(file, 'r');
  try {
    const { size: fileSize } = await handle.stat();
    const magic = Buffer.alloc(2);
    await handle.read(magic, 0, 2, 0);
    if (magic[0] === 0x1f && magic[1] === 0x8b) {
      throw new ArchiveError('ARCHIVE_COMPRESSED', `${file} is gzip-compressed`, {
        hint: `decompress it first (gunzip < ${file} > image.tar)`,
      });
    }
    const entries = new Map<string, TarEntry>();
    const reader = new TarReader(readForward(handle, fileSize, READ_SIZE));
    try {
      for await (const header of reader) {
        const name = normaliseName(header.name);
        const type = String.fromCharCode(header.typeflag || 0x30);
        const size = header.typeflag === 0x35 ? 0 : header.size;
        entries.set(name, { name, type, offset: reader.position, size });
      }
    } catch (cause) {
      if (!(cause instanceof TarError)) throw cause;
      const message =
        cause.code === 'TAR_BAD_HEADER' && cause.offset === 0
          ? `${file} is not a tar archive (bad header at byte 0)`
          : `${file} is not a valid tar archive: ${cause.message}`;
      throw new ArchiveError('ARCHIVE_NOT_TAR', message, {
        hint:
          cause.code === 'TAR_TRUNCATED'
            ? 'the archive is truncated; write or download it again'
            : 'pass a file written by docker save, skopeo or wharf',
        cause,
      });
    }
    return entries;
  } finally {
    await handle.close();
  }
}

/** A stream of `entry`'s bytes from `file`. */
export function openEntry(file: string, entry: TarEntry): Readable {
  if (entry.size === 0) return Readable.from([]);
  return createReadStream(file, { start: entry.offset, end: entry.offset + entry.size - 1 });
}

/** The first `length` bytes of `entry` (for sniffing compression). */
export async function peekEntry(file: string, entry: TarEntry, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const n = Math.min(length, entry.size);
    const buffer = Buffer.alloc(n);
    await handle.read(buffer, 0, n, entry.offset);
    return buffer;
  } finally {
    await handle.close();
  }
}
