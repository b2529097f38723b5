/**
 * Deterministic tar output, streamed: entries are written in the order given, with fixed metadata
 * (mtime, uid/gid 0, empty user/group names, 0644 files and 0755 directories), so the same entries
 * always give the same bytes — exactly those tar-stream's `pack()` wrote before (see tar/header.ts).
 * File bodies are hashed and counted while they are copied, so a blob that does not match its
 * descriptor fails the archive instead of corrupting it; a body the blob store verifies as it reads
 * it (the same digest) is only counted, not hashed twice, and a store blob of the expected digest is
 * read from its file straight into the output (and hashed here, failing as the store would).
 *
 * Output is produced in chunks of about 1 MiB: headers are encoded straight into the chunk and body
 * bytes copied after them, so a big archive is a few hundred large writes, with no stream per entry
 * and no transform per blob (tar-stream's entry streams and `verified()` cost more than the copying).
 *
 * `writeTarFile` writes to a temp file beside the destination and renames it into place at the end;
 * any failure removes the temp file, and an existing destination is replaced only on success.
 */
import { type FileHandle, mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { WharfError } from '../errors.js';
import { SyncBehind, siblingTemp, syncDirectory } from '../fsutil/files.js';
import { type Expected, ImageError, storedBlobOf } from '../image/index.js';
import { createDigester, type Digest, type Digester, digestAlgorithm } from '../oci/index.js';
import { END_OF_ARCHIVE, headerLength, paddingFor, type TarHeader } from '../tar/header.js';
import { BufferPool, CHUNK, TarOutput } from '../tar/output.js';
import { ArchiveError } from './errors.js';

export interface TarFile {
  readonly name: string;
  readonly type?: 'file' | 'directory';
  /** Small content, given in full. */
  readonly bytes?: Uint8Array;
  /** Streamed content: its length must be known up front (tar headers carry it). */
  readonly size?: number;
  readonly open?: () => Promise<Readable>;
  /** Checked while streaming (`open` only). */
  readonly expected?: Omit<Expected, 'size'>;
}

export interface TarOptions {
  /** Entry modification time; default the Unix epoch (reproducible). */
  readonly mtime?: Date;
}

type Files = Iterable<TarFile> | AsyncIterable<TarFile>;

/** The tar header of `file`, with the fields tar-stream's `pack()` was given (and its defaults). */
function headerOf(file: TarFile, mtime: number): TarHeader {
  const directory = file.type === 'directory';
  return {
    name: directory ? `${file.name.replace(/\/+$/, '')}/` : file.name,
    type: directory ? 'directory' : 'file',
    mode: directory ? 0o755 : 0o644,
    mtime,
    uid: 0,
    gid: 0,
    size: directory ? 0 : (file.bytes?.byteLength ?? file.size ?? 0) || 0,
  };
}

/** Counts (and with an expected digest, hashes) a body as it is copied; fails as image/'s `verifier()`. */
class BodyCheck {
  readonly #name: string;
  readonly #size: number;
  readonly #expected: TarFile['expected'];
  readonly #digester: Digester | undefined;
  #read = 0;

  readonly #corrupt: ((actual: Digest) => Error) | undefined;

  /**
   * `verifiedElsewhere`: the source already fails on other bytes (a verifying store stream), so only
   * count. `corrupt`: the error for other bytes, when the source has its own (a store blob read here).
   */
  constructor(file: TarFile, size: number, verifiedElsewhere = false, corrupt?: (actual: Digest) => Error) {
    this.#name = file.name;
    this.#size = size;
    this.#expected = file.expected;
    this.#corrupt = corrupt;
    const digest = file.expected?.digest;
    this.#digester = digest && !verifiedElsewhere ? createDigester(digestAlgorithm(digest)) : undefined;
  }

  update(chunk: Uint8Array): void {
    this.#read += chunk.byteLength;
    if (this.#read > this.#size) throw this.#sizeMismatch('more than ');
    this.#digester?.update(chunk);
  }

  end(): void {
    // A store blob cut short fails as the store's stream would: as a blob that hashes to other bytes.
    if (this.#read < this.#size && this.#corrupt && this.#digester)
      throw this.#corrupt(this.#digester.digest());
    if (this.#read !== this.#size) throw this.#sizeMismatch('');
    const expected = this.#expected;
    if (expected?.digest === undefined || !this.#digester) return; // only counted
    const actual = this.#digester.digest();
    if (actual !== expected.digest) {
      if (this.#corrupt) throw this.#corrupt(actual);
      throw new ImageError(
        'IMAGE_DIGEST_MISMATCH',
        `${expected.what}: content hashes to ${actual}, but its descriptor says ${expected.digest}`,
        { hint: 'the source changed or is corrupt; fetch or build it again' },
      );
    }
  }

  #sizeMismatch(more: string): Error {
    if (!this.#expected) {
      return new Error(
        `tar entry ${this.#name}: read ${more}${this.#read} bytes, but its size is ${this.#size}`,
      );
    }
    return new ImageError(
      'IMAGE_SIZE_MISMATCH',
      `${this.#expected.what}: read ${more}${this.#read} bytes, but its descriptor says ${this.#size}`,
      { hint: 'the source changed or is corrupt; fetch or build it again' },
    );
  }
}

function bytesOf(chunk: unknown): Uint8Array {
  return typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
}

/**
 * The tar of `files` in chunks of about {@link CHUNK} bytes (see {@link TarOutput} for `pool`). Bodies
 * are opened one at a time, when the output reaches them; stopping early destroys the open one.
 */
async function* tarChunks(files: Files, options: TarOptions, pool?: BufferPool): AsyncGenerator<Buffer> {
  // whole seconds as tar-stream took them: `(getTime() / 1000) | 0`
  const mtime = ((options.mtime ?? new Date(0)).getTime() / 1000) | 0;
  const out = new TarOutput(pool);
  for await (const file of files) {
    const header = headerOf(file, mtime);
    const length = headerLength(header);
    yield* out.reserve(length);
    if (header.type === 'file' && !file.bytes && !file.open) {
      throw new Error(`tar entry ${file.name} has neither bytes nor an opener`);
    }
    out.header(header, length);
    if (header.type === 'directory') continue;
    if (file.bytes) {
      yield* out.copy(file.bytes);
    } else {
      const source = await (file.open as () => Promise<Readable>)();
      const blob = storedBlobOf(source);
      // The store's file of the expected blob, if the stream is that.
      const stored = blob?.digest === file.expected?.digest ? blob : undefined;
      // Opened before the stream is dropped: a blob deleted meanwhile is still read from the stream.
      const handle = stored ? await open(stored.file, 'r').catch(() => undefined) : undefined;
      if (stored && handle) {
        source.destroy();
        const corrupt = stored.verified ? stored.corrupt : undefined;
        yield* storedBody(handle, new BodyCheck(file, header.size, false, corrupt), header.size, out);
        yield* out.zeros(paddingFor(header.size));
        continue;
      }
      const check = new BodyCheck(file, header.size, stored?.verified === true);
      try {
        for await (const piece of source) {
          const chunk = bytesOf(piece);
          check.update(chunk);
          yield* out.copy(chunk);
        }
      } finally {
        source.destroy(); // a no-op once the source has ended
      }
      check.end();
    }
    yield* out.zeros(paddingFor(header.size));
  }
  yield* out.copy(END_OF_ARCHIVE);
  yield out.take();
}

/**
 * A store blob's bytes read from its file (`handle`, closed here) straight into the output chunks: no
 * stream, and no fresh buffer per MiB read (a 190 MB layer left ~30 MB of such garbage at the build's
 * peak). Checked as the store's stream checks them: every byte counted and hashed, the file's end
 * included.
 */
async function* storedBody(
  handle: FileHandle,
  check: BodyCheck,
  size: number,
  out: TarOutput,
): AsyncGenerator<Buffer> {
  try {
    const read = yield* out.readFrom(size, async (buf, offset, length, position) => {
      const { bytesRead } = await handle.read(buf, offset, length, position);
      check.update(buf.subarray(offset, offset + bytesRead));
      return bytesRead;
    });
    // A longer file fails as its stream would have, on the first byte past `size`.
    const past = Buffer.alloc(1);
    if (read === size && (await handle.read(past, 0, 1, size)).bytesRead > 0) check.update(past);
  } finally {
    await handle.close();
  }
  check.end();
}

/**
 * The tar of `files` as a stream (for stdout or a pipe), pull-driven: entries are read as the
 * consumer asks for bytes. Errors in any entry fail the stream; destroying it stops the reading.
 */
export function tarStream(files: Files, options: TarOptions = {}): Readable {
  return Readable.from(tarChunks(files, options), { objectMode: false });
}

/**
 * Writes the tar of `files` to `dest` atomically (temp file + rename); returns the archive's size.
 * One chunk is written while the next is filled. Errors that are not WharfErrors are wrapped as
 * `ARCHIVE_WRITE_FAILED` naming the destination.
 */
export async function writeTarFile(
  dest: string,
  files: Files,
  options: TarOptions = {},
): Promise<{ size: number }> {
  const temp = siblingTemp(dest);
  let handle: FileHandle | undefined;
  let writing: Promise<void> | undefined;
  let size = 0;
  try {
    await mkdir(dirname(dest), { recursive: true });
    handle = await open(temp, 'wx', 0o644);
    const pool = new BufferPool();
    const durable = new SyncBehind(handle);
    for await (const chunk of tarChunks(files, options, pool)) {
      await writing; // one write in flight while the next chunk is filled
      writing = durable.write(chunk).then(() => pool.release(chunk));
      writing.catch(() => {}); // handled where it is awaited; the generator may fail first
      size += chunk.byteLength;
    }
    await writing;
    await durable.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, dest);
    await syncDirectory(dirname(dest));
    return { size };
  } catch (error) {
    await writing?.catch(() => {}); // no write in flight when the handle closes
    await handle?.close().catch(() => {});
    await unlink(temp).catch(() => {});
    if (error instanceof WharfError) throw error;
    throw new ArchiveError('ARCHIVE_WRITE_FAILED', `writing ${dest} failed: ${(error as Error).message}`, {
      hint: 'check the destination (space, permissions); nothing was left behind',
      cause: error,
    });
  }
}
