/**
 * Local tar archives for ADD: detection by magic bytes, as Docker's `archive.DecompressStream`
 * does (gzip `1f 8b 08`, bzip2 `BZh`, xz `fd 37 7a 58 5a 00`, zstd `28 b5 2f fd`, else plain), then
 * "is it a tar?" = the tar reader's first `next()` gives a member, like Go's `tar.Reader.Next()`
 * succeeding. gzip is decompressed with Node's zlib; bzip2, xz and zstd by the system's `bzip2`, `xz`
 * and `zstd` programs, run through image/program.ts (see README for why). Members are read with tar/reader.ts (the one tar parser).
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { WharfError } from '../errors.js';
import { findProgram, programStream } from '../image/program.js';
import { MAX_EXTENDED_HEADER, type TarEntry, TarReader } from '../tar/reader.js';

export type ArchiveErrorCode = 'ADD_DECOMPRESSOR_MISSING' | 'ADD_ARCHIVE_FAILED';

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

/** The compression of the first bytes of a file, by magic number. */
export function detectCompression(head: Uint8Array): Compression {
  const b = (i: number) => head[i];
  if (b(0) === 0x1f && b(1) === 0x8b && b(2) === 0x08) return 'gzip';
  if (b(0) === 0x42 && b(1) === 0x5a && b(2) === 0x68) return 'bzip2';
  if (b(0) === 0xfd && b(1) === 0x37 && b(2) === 0x7a && b(3) === 0x58 && b(4) === 0x5a && b(5) === 0x00)
    return 'xz';
  if (b(0) === 0x28 && b(1) === 0xb5 && b(2) === 0x2f && b(3) === 0xfd) return 'zstd';
  return 'none';
}

const PROGRAMS: Record<Exclude<Compression, 'none' | 'gzip'>, string> = {
  bzip2: 'bzip2',
  xz: 'xz',
  zstd: 'zstd',
};

/** The decompressed bytes of `file`, streamed. Errors (corrupt data, a missing program) fail the stream. */
export function openDecompressed(file: string, compression: Compression): Readable {
  if (compression === 'none') return createReadStream(file);
  if (compression === 'gzip') {
    const input = createReadStream(file);
    const gunzip = createGunzip({ chunkSize: 1024 * 1024 }); // see image/stream.ts
    input.on('error', (error) => gunzip.destroy(error));
    return input.pipe(gunzip);
  }
  const name = PROGRAMS[compression];
  const program = findProgram(name);
  if (program === undefined) {
    const missing = new WharfError<ArchiveErrorCode>(
      'ADD_DECOMPRESSOR_MISSING',
      `cannot unpack ${file}: the ${name} program is not installed`,
      { hint: `install it (Debian: apt-get install ${name === 'xz' ? 'xz-utils' : name})` },
    );
    const failed = new PassThrough();
    process.nextTick(() => failed.destroy(missing));
    return failed;
  }
  const input = createReadStream(file);
  const out = programStream(program, ['-dc'], {
    failure: (detail, cause) =>
      new WharfError<ArchiveErrorCode>('ADD_ARCHIVE_FAILED', `cannot unpack ${file}: ${detail}`, {
        hint: 'the archive is corrupt or truncated; check it with the program named',
        ...(cause === undefined ? {} : { cause }),
      }),
  });
  input.on('error', (error) => out.destroy(error));
  out.on('close', () => input.destroy());
  return input.pipe(out);
}

/** The first `limit` bytes (about) of a stream; leaving early destroys it. */
async function* head(stream: Readable, limit: number): AsyncGenerator<Buffer> {
  let size = 0;
  for await (const chunk of stream) {
    yield chunk as Buffer;
    size += (chunk as Buffer).byteLength;
    if (size >= limit) return;
  }
}

/** The compression of `file` when it is a tar archive ADD should unpack, else `undefined`. */
export async function detectArchive(file: string): Promise<Compression | undefined> {
  const handle = await open(file, 'r');
  let magic: Buffer;
  try {
    const buf = Buffer.alloc(16);
    const { bytesRead } = await handle.read(buf, 0, 16, 0);
    magic = buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const compression = detectCompression(magic);
  const stream = openDecompressed(file, compression);
  stream.on('error', () => {});
  // enough for the largest extended header and the header after it; an empty tar is not an archive here
  const reader = new TarReader(head(stream, MAX_EXTENDED_HEADER + 4096));
  try {
    return (await reader.next()) ? compression : undefined;
  } catch {
    return undefined; // unreadable, corrupt or not a tar: a plain file
  } finally {
    await reader.close();
    stream.destroy();
  }
}

/** One archive member, with its content (read it, or not, before asking for the next member). */
export interface ArchiveMember {
  readonly index: number;
  readonly header: TarEntry;
  readonly content: AsyncIterable<Buffer>;
}

function archiveFailed(file: string, cause: unknown): unknown {
  if (cause instanceof WharfError) return cause;
  const why = cause instanceof Error ? `: ${cause.message}` : '';
  return new WharfError<ArchiveErrorCode>('ADD_ARCHIVE_FAILED', `cannot read the archive ${file}${why}`, {
    hint: 'check that the file is a complete tar archive (tar -tvf lists it)',
    cause,
  });
}

/** Iterates the members of a (possibly compressed) tar archive, streaming. */
export async function* readArchive(file: string, compression: Compression): AsyncGenerator<ArchiveMember> {
  const input = openDecompressed(file, compression);
  const reader = new TarReader(input);
  async function* content(): AsyncGenerator<Buffer> {
    try {
      yield* reader.content();
    } catch (cause) {
      throw archiveFailed(file, cause);
    }
  }
  let index = 0;
  try {
    for (let entry = await reader.next(); entry; entry = await reader.next()) {
      yield { index: index++, header: entry, content: content() };
    }
  } catch (cause) {
    throw archiveFailed(file, cause);
  } finally {
    await reader.close();
    input.destroy();
  }
}
