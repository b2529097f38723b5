/**
 * Planned entries → tar bytes, streaming, deterministic. Entries are written in the given order;
 * headers are USTAR, with a PAX extended header where USTAR cannot hold a value (long or non-ASCII
 * names and link targets, big uids), byte for byte what `tar-stream` wrote (see tar/header.ts). Every mtime is the same fixed time
 * (SOURCE_DATE_EPOCH, else the Unix epoch); no atime/ctime; uname/gname are empty; ownership and
 * modes are the plan's. File contents are streamed from disk (or from the ADDed archive) with
 * backpressure, so memory stays flat whatever the sizes.
 */
import { createHash, type Hash, hash } from 'node:crypto';
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { WharfError } from '../errors.js';
import { END_OF_ARCHIVE, headerLength, paddingFor, type TarHeader } from '../tar/header.js';
import { type BufferPool, TarOutput } from '../tar/output.js';
import { type ArchiveMember, readArchive } from './archive.js';
import type { FileContent, LayerEntry } from './entry.js';

export type TarWriterErrorCode = 'LAYER_SOURCE_CHANGED' | 'LAYER_BAD_EPOCH';

export interface TarWriteOptions {
  /** The mtime of every entry, in seconds since the epoch. Default {@link sourceDateEpoch}(). */
  readonly mtime?: number;
  /**
   * Told the sha256 (hex) of every file read from disk (content kind `path`), hashed from the bytes
   * written into the tar: a COPY can key its step after writing the layer, with no second read.
   */
  readonly onFileHashed?: (entry: FileEntry, sha256: string) => void;
}

type FileEntry = Extract<LayerEntry, { type: 'file' }>;

/** `SOURCE_DATE_EPOCH` (whole seconds) when set and non-empty, else 0 (1970-01-01T00:00:00Z). */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw.trim() === '') return 0;
  if (!/^\s*[0-9]+\s*$/.test(raw)) {
    throw new WharfError<TarWriterErrorCode>(
      'LAYER_BAD_EPOCH',
      `SOURCE_DATE_EPOCH=${raw} is not a whole number of seconds`,
      {
        hint: 'set it to a Unix timestamp, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)',
      },
    );
  }
  return Number.parseInt(raw, 10);
}

/** Files up to this size are read with one synchronous call, straight into the output chunk. */
const SMALL_FILE = 256 * 1024;

const TAR_TYPE = { dir: 'directory', file: 'file', symlink: 'symlink', hardlink: 'link' } as const;

/** The tar of `entries` as a Node stream (pull-driven: nothing is read before the consumer asks). */
export function tarStream(
  entries: Iterable<LayerEntry> | AsyncIterable<LayerEntry>,
  options: TarWriteOptions = {},
): Readable {
  return Readable.from(tarChunks(entries, options), { objectMode: false });
}

/**
 * The tar bytes in chunks of about 1 MiB (`tar/output.ts`). Headers are encoded into the chunk and small files
 * read into it with synchronous calls: a layer is thousands of small files, and a thread-pool round
 * trip (and a stream) per file made writing three times slower. Big files are read into the chunks
 * too, a chunk's room at a time.
 *
 * With `pool`, every chunk is a buffer of the pool, and the consumer must {@link BufferPool.release}
 * each one once written (and not before): a layer's tar then cycles through a few buffers instead of
 * one fresh MiB (a page fault per 4 KiB on first touch) per MiB. Without one, chunks are fresh buffers
 * the consumer may keep.
 */
export async function* tarChunks(
  entries: Iterable<LayerEntry> | AsyncIterable<LayerEntry>,
  options: TarWriteOptions = {},
  pool?: BufferPool,
): AsyncGenerator<Buffer> {
  const mtime = options.mtime ?? sourceDateEpoch();
  const onFileHashed = options.onFileHashed;
  const archives = new ArchiveCursors();
  const out = new TarOutput(pool);
  try {
    for await (const entry of entries) {
      const size = entry.type === 'file' ? entry.size : 0;
      const header = headerOf(entry, mtime);
      const headerBytes = headerLength(header);
      const small = size <= SMALL_FILE && entry.type === 'file' && entry.content.kind !== 'archive';
      yield* out.reserve(headerBytes + (small ? size + paddingFor(size) : 0));
      out.header(header, headerBytes);
      if (entry.type !== 'file') continue;
      const hashed = onFileHashed !== undefined && entry.content.kind === 'path';
      if (small) {
        // an empty file is not even opened (its digest is the empty input's)
        let digest = hashed ? EMPTY_SHA256 : undefined;
        if (size > 0) {
          out.fillWith(size, (buf, offset) => {
            readSmall(entry.content, size, buf, offset);
            // one call for the whole file: a Hash object per file cost more than hashing it
            if (hashed) digest = hash('sha256', buf.subarray(offset, offset + size), 'hex');
          });
        }
        if (digest !== undefined) onFileHashed?.(entry, digest);
      } else {
        const running = hashed ? createHash('sha256') : undefined;
        if (entry.content.kind === 'path') {
          yield* readBig(entry.content, size, out, running);
        } else {
          for await (const part of contentChunks(entry.content, size, archives)) {
            running?.update(part);
            yield* out.copy(part); // into the chunk: a pooled consumer gives back only its own buffers
          }
        }
        if (running) onFileHashed?.(entry, running.digest('hex'));
      }
      yield* out.zeros(paddingFor(size));
    }
    yield* out.reserve(END_OF_ARCHIVE.byteLength);
    yield* out.copy(END_OF_ARCHIVE);
    yield out.take();
  } finally {
    await archives.close();
  }
}

/** sha256 of no bytes. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

type PathContent = Extract<FileContent, { kind: 'path' }>;

/** O_NOATIME is refused (EPERM) for a file the process does not own, unless root: then a plain open. */
const NO_ATIME = constants.O_RDONLY | (constants.O_NOATIME ?? 0);
const refused = (error: unknown) => (error as { code?: unknown }).code === 'EPERM';

function openPathSync(content: PathContent): number {
  if (!content.noAtime) return openSync(content.path, 'r');
  try {
    return openSync(content.path, NO_ATIME);
  } catch (error) {
    if (refused(error)) return openSync(content.path, 'r');
    throw error;
  }
}

function openPath(content: PathContent): ReturnType<typeof open> {
  if (!content.noAtime) return open(content.path, 'r');
  return open(content.path, NO_ATIME).catch((error: unknown) => {
    if (refused(error)) return open(content.path, 'r');
    throw error;
  });
}

/** A big file's bytes (exactly `size`) read straight into the output chunks, handing out each one filled. */
async function* readBig(
  content: PathContent,
  size: number,
  out: TarOutput,
  running: Hash | undefined,
): AsyncGenerator<Buffer> {
  const handle = await openPath(content);
  let written: number;
  try {
    written = yield* out.readFrom(size, async (buf, offset, length, position) => {
      const { bytesRead } = await handle.read(buf, offset, length, position);
      running?.update(buf.subarray(offset, offset + bytesRead));
      return bytesRead;
    });
  } finally {
    await handle.close();
  }
  if (written !== size) throw changed(content, size, written);
}

function headerOf(entry: LayerEntry, mtime: number): TarHeader {
  return {
    name: entry.type === 'dir' ? `${entry.path}/` : entry.path,
    type: TAR_TYPE[entry.type],
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    size: entry.type === 'file' ? entry.size : 0,
    mtime,
    ...(entry.type === 'symlink' || entry.type === 'hardlink' ? { linkname: entry.linkTarget } : {}),
  };
}

/** Reads exactly `size` bytes of a small file or in-memory content into `buf` at `offset`. */
function readSmall(content: FileContent, size: number, buf: Buffer, offset: number): void {
  if (content.kind === 'bytes') {
    if (content.data.byteLength < size) throw changed(content, size, content.data.byteLength);
    buf.set(content.data.subarray(0, size), offset);
    return;
  }
  if (content.kind !== 'path') throw new Error('unreachable: archive members stream');
  const fd = openPathSync(content);
  try {
    let read = 0;
    while (read < size) {
      const n = readSync(fd, buf, offset + read, size - read, read);
      if (n === 0) break;
      read += n;
    }
    if (read !== size) throw changed(content, size, read);
  } finally {
    closeSync(fd);
  }
}

/** In-memory bytes or an archive member's (exactly `size`), in the pieces they come in. */
async function* contentChunks(
  content: FileContent,
  size: number,
  archives: ArchiveCursors,
): AsyncGenerator<Buffer> {
  if (content.kind === 'bytes') {
    if (content.data.byteLength < size) throw changed(content, size, content.data.byteLength);
    yield Buffer.from(content.data.buffer, content.data.byteOffset, size);
    return;
  }
  if (content.kind === 'path') throw new Error('unreachable: files on disk are read by readBig');
  let written = 0;
  for await (const piece of (await archives.member(content)).content) {
    const buf = piece as Buffer;
    const room = size - written;
    const part = buf.byteLength > room ? buf.subarray(0, room) : buf;
    written += part.byteLength;
    if (part.byteLength > 0) yield part;
    if (written >= size) break;
  }
  if (written !== size) throw changed(content, size, written);
}

function changed(content: FileContent, expected: number, read: number): WharfError<TarWriterErrorCode> {
  return new WharfError<TarWriterErrorCode>(
    'LAYER_SOURCE_CHANGED',
    `${describe(content)} changed while the layer was written: expected ${expected} bytes, read ${read}`,
    { hint: 'do not modify the build context during a build' },
  );
}

function describe(content: FileContent): string {
  switch (content.kind) {
    case 'path':
      return content.path;
    case 'archive':
      return `member ${content.member} of ${content.archive}`;
    case 'bytes':
      return 'in-memory content';
  }
}

/** Sequential readers over ADDed archives: members are asked for in archive order, so one pass each. */
class ArchiveCursors {
  readonly #open = new Map<string, { iter: AsyncGenerator<ArchiveMember>; last: number }>();

  async member(content: Extract<FileContent, { kind: 'archive' }>): Promise<ArchiveMember> {
    let cursor = this.#open.get(content.archive);
    if (!cursor || cursor.last >= content.member) {
      await cursor?.iter.return(undefined);
      cursor = { iter: readArchive(content.archive, content.compression), last: -1 };
      this.#open.set(content.archive, cursor);
    }
    for (;;) {
      const next = await cursor.iter.next();
      if (next.done) {
        throw new WharfError<TarWriterErrorCode>(
          'LAYER_SOURCE_CHANGED',
          `${content.archive} changed while the layer was written: member ${content.member} is gone`,
        );
      }
      cursor.last = next.value.index;
      if (next.value.index === content.member) return next.value;
    }
  }

  async close(): Promise<void> {
    for (const { iter } of this.#open.values()) await iter.return(undefined).catch(() => {});
    this.#open.clear();
  }
}
