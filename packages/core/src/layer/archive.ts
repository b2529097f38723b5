/**
 * Local tar archives for ADD: detection by magic bytes, as Docker's `archive.DecompressStream`
 * does (gzip `1f 8b 08`, bzip2 `BZh`, xz `fd 37 7a 58 5a 00`, zstd `28 b5 2f fd`, else plain), then
 * "is it a tar?" = the first 512 decompressed bytes are a header with a valid checksum, like Go's
 * `tar.Reader.Next()` succeeding. gzip is decompressed with Node's zlib; bzip2, xz and zstd by the
 * system's `bzip2`, `xz` and `zstd` programs (see README for why).
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { type Header, extract as tarExtract } from 'tar-stream';
import { WharfError } from '../errors.js';

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
  const program = PROGRAMS[compression];
  const out = new PassThrough();
  const child = spawn(program, ['-dc', '--', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  child.on('error', (cause) => {
    const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
    out.destroy(
      missing
        ? new WharfError<ArchiveErrorCode>(
            'ADD_DECOMPRESSOR_MISSING',
            `cannot unpack ${file}: the ${program} program is not installed`,
            {
              hint: `install it (Debian: apt-get install ${program === 'xz' ? 'xz-utils' : program})`,
              cause,
            },
          )
        : new WharfError<ArchiveErrorCode>('ADD_ARCHIVE_FAILED', `cannot run ${program} for ${file}`, {
            cause,
          }),
    );
  });
  child.stdout.pipe(out, { end: false });
  let exited: number | null | undefined;
  let stdoutEnded = false;
  const finish = () => {
    if (exited === undefined || !stdoutEnded) return;
    if (exited === 0) out.end();
    else
      out.destroy(
        new WharfError<ArchiveErrorCode>(
          'ADD_ARCHIVE_FAILED',
          `${program} failed on ${file}: ${stderr.trim() || `exit ${exited}`}`,
        ),
      );
  };
  child.stdout.on('end', () => {
    stdoutEnded = true;
    finish();
  });
  child.on('close', (code) => {
    exited = code;
    finish();
  });
  out.on('close', () => {
    if (exited === undefined) child.kill();
  });
  return out;
}

/** Reads up to `n` bytes from the start of a stream, then destroys it. */
async function readHead(stream: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).byteLength;
      if (size >= n) break;
    }
  } catch {
    // unreadable or corrupt: not an archive
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, n);
}

/** Whether a 512-byte block is a tar header with a valid checksum (unsigned or signed sum, as Go accepts). */
export function isTarHeader(block: Uint8Array): boolean {
  if (block.byteLength < 512) return false;
  if (block.every((x) => x === 0)) return false; // end of archive: an empty tar is not an archive here
  const field = Buffer.from(block.subarray(148, 156))
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^[\0 ]+/, '');
  if (!/^[0-7]+$/.test(field)) return false;
  const expected = Number.parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  return expected === unsigned || expected === signed;
}

/** The compression of `file` when it is a tar archive ADD should unpack, else `undefined`. */
export async function detectArchive(file: string): Promise<Compression | undefined> {
  const handle = await open(file, 'r');
  let head: Buffer;
  try {
    const buf = Buffer.alloc(16);
    const { bytesRead } = await handle.read(buf, 0, 16, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const compression = detectCompression(head);
  const stream = openDecompressed(file, compression);
  stream.on('error', () => {});
  const block = await readHead(stream, 512);
  return isTarHeader(block) ? compression : undefined;
}

/**
 * Reads what is left of a tar-stream entry and waits for its end (a no-op when it has ended), so the
 * extractor can move on to the next one.
 */
export async function drainEntry(entry: unknown): Promise<void> {
  const s = entry as Readable & { _readableState?: { ended?: boolean } };
  if (s.destroyed || s._readableState?.ended) return;
  await new Promise<void>((resolve) => {
    s.once('end', () => resolve());
    s.once('close', () => resolve());
    s.once('error', () => resolve());
    s.resume();
  });
}

/** One archive member, with its content stream (drain or read it before asking for the next). */
export interface ArchiveMember {
  readonly index: number;
  readonly header: Header;
  readonly content: Readable;
}

/** Iterates the members of a (possibly compressed) tar archive, streaming. */
export async function* readArchive(file: string, compression: Compression): AsyncGenerator<ArchiveMember> {
  const input = openDecompressed(file, compression);
  const extract = tarExtract();
  input.on('error', (error) => extract.destroy(error));
  input.pipe(extract as unknown as NodeJS.WritableStream);
  let index = 0;
  try {
    for await (const entry of extract) {
      yield { index: index++, header: entry.header, content: entry as unknown as Readable };
      await drainEntry(entry);
    }
  } catch (cause) {
    if (cause instanceof WharfError) throw cause;
    throw new WharfError<ArchiveErrorCode>('ADD_ARCHIVE_FAILED', `cannot read the archive ${file}`, {
      cause,
    });
  } finally {
    input.destroy();
  }
}
