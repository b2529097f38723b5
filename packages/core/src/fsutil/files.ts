/**
 * Writing files so that readers see the old content or the new, never a torn one: the one
 * temp-file-then-rename writer, the one temp name beside a file, the one full write of a chunk, the
 * one directory fsync and the one "is this a missing file" test; and the one forward reader of a file
 * that can skip bytes without reading them (tar members a walk of the headers does not need).
 */
import { randomUUID } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** How {@link writeFileAtomic} writes. */
export interface WriteFileAtomicOptions {
  /** The new file's mode (default 0o644, before the umask). */
  readonly mode?: number;
  /** The mode of directories created on the way (default 0o777, before the umask). */
  readonly dirMode?: number;
  /**
   * fsync the file before the rename and its directory after (default true). Records that can be
   * rebuilt from the store (cache indexes, views) pass false: a crash loses the record, never the data.
   */
  readonly durable?: boolean;
}

/**
 * Writes `data` to `path` atomically: a temp file beside it (same filesystem), fsync, rename over
 * `path`, fsync the directory. Missing parent directories are created; on failure the temp file is
 * removed and the error is rethrown, and `path` keeps its old content.
 *
 * @example
 * await writeFileAtomic('/cache/steps/abc.json', JSON.stringify(record));
 * await writeFileAtomic(configFile, text, { mode: 0o600, dirMode: 0o700 });
 */
export async function writeFileAtomic(
  path: string,
  /** The content; an iterable of strings is written piece by piece (a big record never one string). */
  data: string | Uint8Array | Iterable<string>,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const durable = options.durable ?? true;
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, ...(options.dirMode === undefined ? {} : { mode: options.dirMode }) });
  const temp = siblingTemp(path);
  try {
    const handle = await open(temp, 'wx', options.mode ?? 0o644);
    try {
      if (typeof data === 'string' || data instanceof Uint8Array) await handle.writeFile(data);
      else for (const piece of data) await handle.write(piece);
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {});
    throw error;
  }
  if (durable) await syncDirectory(dir);
}

/**
 * A unique name beside `path` for a file or directory that is renamed onto it (same filesystem, so the
 * rename is atomic): `<dir>/.<name>.<kind>-<pid>-<uuid>`. Writers that stream (the blob store's
 * verified puts, layout directories, archives) build their temp-and-rename on it.
 *
 * @example
 * const temp = siblingTemp('/out/image.tar'); // '/out/.image.tar.tmp-4242-1b9d…'
 */
export function siblingTemp(path: string, kind = 'tmp'): string {
  return join(dirname(path), `.${basename(path)}.${kind}-${process.pid}-${randomUUID()}`);
}

/**
 * Writes all of `chunk` at the handle's position (a write may take fewer bytes than asked).
 *
 * @example
 * for await (const chunk of source) await writeAll(handle, chunk);
 */
export async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

/** Bytes written between two background flushes of a {@link SyncBehind} file. */
const SYNC_BEHIND_EVERY = 16 * 1024 * 1024;
/**
 * Whether a background flush runs anywhere in the process: one at a time, as each holds one of libuv's
 * four threads while the disk writes, and the gzip deflates and file writes need the others.
 */
let flushRunning = false;

/**
 * fsync for a file written as a stream: every 16 MiB the part written so far is flushed (fdatasync) in
 * the background, so the disk writes while the rest is made, and `sync()` at the end waits for the last
 * part only. Without it a 200 MB layer waited ~0.3 s for its fsync after the last byte.
 *
 * An error of a background flush is kept and thrown by `sync()`: Linux reports a writeback error to a
 * file description once, so the final fsync could otherwise miss it.
 *
 * @example
 * const durable = new SyncBehind(handle);
 * for await (const chunk of source) await durable.write(chunk);
 * await durable.sync();
 */
export class SyncBehind {
  readonly #handle: FileHandle;
  #unflushed = 0;
  #flushing: Promise<void> | undefined;
  #failed: { error: unknown } | undefined;

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  /** Writes all of `chunk` at the handle's position ({@link writeAll}), flushing behind it. */
  async write(chunk: Uint8Array): Promise<void> {
    await writeAll(this.#handle, chunk);
    this.wrote(chunk.byteLength);
  }

  /** Counts `bytes` just written another way; starts a background flush once enough have gathered. */
  wrote(bytes: number): void {
    this.#unflushed += bytes;
    // one flush in the process at a time: a file that finds one running tries again at its next write
    if (this.#unflushed < SYNC_BEHIND_EVERY || flushRunning) return;
    this.#unflushed = 0;
    flushRunning = true;
    const done = () => {
      flushRunning = false;
      this.#flushing = undefined;
    };
    this.#flushing = this.#handle.datasync().then(done, (error: unknown) => {
      done();
      this.#failed ??= { error };
    });
  }

  /** Waits for a background flush, then fsyncs the file; throws the first error of either. */
  async sync(): Promise<void> {
    await this.#flushing;
    if (this.#failed) throw this.#failed.error;
    await this.#handle.sync();
  }
}

/**
 * Makes the renames in `dir` durable (fsync of the directory). Best effort: some platforms cannot
 * open or fsync a directory, and the rename itself is atomic anyway.
 *
 * @example
 * await rename(temp, join(dir, 'index.json'));
 * await syncDirectory(dir);
 */
export async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // not supported here; the rename is still atomic
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * Whether `error` says the path does not exist (`ENOENT`); with `notDirectory`, also when a component
 * on the way is not a directory (`ENOTDIR`), which means the same for a lookup.
 *
 * @example
 * const text = await readFile(file, 'utf8').catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
 */
export function isNotFound(error: unknown, options: { readonly notDirectory?: boolean } = {}): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || (options.notDirectory === true && code === 'ENOTDIR');
}

/**
 * `handle` read forward from offset 0 in pieces of at most `chunk` bytes, each a fresh buffer (a reader
 * may keep them) — or with `reuse`, every piece read into one buffer, valid only until the next piece is
 * asked for (for a reader that copies what it keeps: no allocation and no garbage per piece). `skip(n)`
 * moves `n` bytes on without reading and says whether the file still reaches that far: the shape of the
 * tar reader's `SkippingInput`, so member content is skipped, not read.
 */
export function readForward(
  handle: FileHandle,
  fileSize: number,
  chunk: number,
  reuse = false,
): AsyncIterable<Uint8Array> & { skip(n: number): Promise<boolean> } {
  let position = 0;
  const shared = reuse ? Buffer.allocUnsafe(Math.min(chunk, fileSize)) : undefined;
  return {
    async *[Symbol.asyncIterator]() {
      while (position < fileSize) {
        const size = Math.min(chunk, fileSize - position);
        const buffer = shared ? shared.subarray(0, size) : Buffer.allocUnsafe(size);
        const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, position);
        if (bytesRead === 0) return;
        position += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    },
    async skip(n: number) {
      position += n;
      return position <= fileSize;
    },
  };
}
