/**
 * Deterministic tar output, streamed: entries are written in the order given, with fixed metadata
 * (mtime, uid/gid 0, empty user/group names, 0644 files and 0755 directories), so the same entries
 * always give the same bytes. File bodies are streamed from their openers through a verifier, so a
 * blob that does not match its descriptor fails the archive instead of corrupting it.
 *
 * `writeTarFile` writes to a temp file beside the destination and renames it into place at the end;
 * any failure removes the temp file, and an existing destination is replaced only on success.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { type FileHandle, mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { WharfError } from '../errors.js';
import { type Expected, verified } from '../image/index.js';
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

type Pack = ReturnType<typeof pack>;
type Sink = ReturnType<Pack['entry']>;

function closed(stream: Pack | Sink): Promise<never> {
  return new Promise((_resolve, reject) => {
    stream.once('close', () => reject(new Error('the tar stream was closed')));
  });
}

async function writeBody(tar: Pack, sink: Sink, source: Readable): Promise<void> {
  const gone = Promise.race([closed(tar), closed(sink)]);
  gone.catch(() => {});
  try {
    for await (const chunk of source) {
      if (!sink.write(chunk))
        await Promise.race([once(sink as unknown as NodeJS.EventEmitter, 'drain'), gone]);
    }
  } catch (error) {
    // No error argument: a streamx sink destroyed with one emits 'error' with nobody listening.
    tar.destroy(error as Error);
    sink.destroy();
    throw error;
  }
  (sink as unknown as { end(): void }).end();
}

async function addEntry(tar: Pack, file: TarFile, mtime: Date): Promise<void> {
  const directory = file.type === 'directory';
  const header = {
    name: directory ? `${file.name.replace(/\/+$/, '')}/` : file.name,
    type: directory ? ('directory' as const) : ('file' as const),
    mode: directory ? 0o755 : 0o644,
    mtime,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    size: directory ? 0 : (file.bytes?.byteLength ?? file.size ?? 0),
  };
  await new Promise<void>((resolve, reject) => {
    const callback = (error?: Error | null) => (error ? reject(error) : resolve());
    if (directory) {
      tar.entry(header, callback);
    } else if (file.bytes) {
      tar.entry(header, Buffer.from(file.bytes), callback);
    } else {
      const sink = tar.entry(header, callback);
      sink.on('error', () => {}); // failures travel through `callback` and the pack stream
      const opener = file.open;
      if (!opener) throw new Error(`tar entry ${file.name} has neither bytes nor an opener`);
      opener()
        .then((source) =>
          writeBody(
            tar,
            sink,
            file.expected ? verified(source, { ...file.expected, size: header.size }) : source,
          ),
        )
        .catch((error: Error) => {
          tar.destroy(error);
          sink.destroy();
          reject(error);
        });
    }
  });
}

function packFiles(
  files: Iterable<TarFile> | AsyncIterable<TarFile>,
  options: TarOptions,
): { tar: Pack; producer: Promise<void> } {
  const mtime = options.mtime ?? new Date(0);
  const tar = pack();
  // streamx emits 'error' on destroy; consumers see the failure through iteration or pipeline anyway.
  tar.on('error', () => {});
  const producer = (async () => {
    for await (const file of files) await addEntry(tar, file, mtime);
    tar.finalize();
  })();
  producer.catch((error: Error) => tar.destroy(error));
  return { tar, producer };
}

/** The tar of `files` as a stream (for stdout or a pipe). Errors in any entry fail the stream. */
export function tarStream(files: Iterable<TarFile> | AsyncIterable<TarFile>, options: TarOptions = {}): Pack {
  return packFiles(files, options).tar;
}

/** `value` after the current I/O turn (the producer gets one chance to settle first). */
function settle<T>(value: T): Promise<T> {
  return new Promise((resolve) => setImmediate(() => resolve(value)));
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * Writes the tar of `files` to `dest` atomically (temp file + rename); returns the archive's size.
 * Errors that are not WharfErrors are wrapped as `ARCHIVE_WRITE_FAILED` naming the destination.
 */
export async function writeTarFile(
  dest: string,
  files: Iterable<TarFile> | AsyncIterable<TarFile>,
  options: TarOptions = {},
): Promise<{ size: number }> {
  const temp = join(dirname(dest), `.${basename(dest)}.tmp-${process.pid}-${randomUUID()}`);
  let handle: FileHandle | undefined;
  const { tar, producer } = packFiles(files, options);
  let size = 0;
  let opened = false;
  try {
    await mkdir(dirname(dest), { recursive: true });
    handle = await open(temp, 'wx', 0o644);
    opened = true;
    for await (const chunk of tar) {
      await writeAll(handle, chunk as Buffer);
      size += (chunk as Buffer).byteLength;
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, dest);
    await syncDirectory(dirname(dest));
    return { size };
  } catch (caught) {
    tar.destroy();
    await handle?.close().catch(() => {});
    await unlink(temp).catch(() => {});
    // The producer's error (a failing layer) says more than the pack's "Stream was destroyed".
    const error = !opened
      ? caught
      : await Promise.race([
          producer.then(
            () => caught,
            (e: unknown) => e,
          ),
          settle(caught),
        ]);
    if (error instanceof WharfError) throw error;
    throw new ArchiveError('ARCHIVE_WRITE_FAILED', `writing ${dest} failed: ${(error as Error).message}`, {
      hint: 'check the destination (space, permissions); nothing was left behind',
      cause: error,
    });
  }
}
