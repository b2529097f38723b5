/**
 * Random access into an uncompressed tar file: one pass over the 512-byte headers (skipping the data)
 * records where each file's bytes are, so an entry can be streamed later with a ranged read — the way
 * an archive becomes a blob source without extracting it. Understands ustar (name + prefix), pax
 * extended headers (`path`, `size`) and GNU long names (`L`); base-256 sizes.
 */
import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { Readable } from 'node:stream';
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

const BLOCK = 512;

function cstring(block: Buffer, start: number, length: number): string {
  const end = block.indexOf(0, start);
  return block.toString('utf8', start, end < 0 || end > start + length ? start + length : end);
}

function number(block: Buffer, start: number, length: number): number {
  const first = block[start] as number;
  if (first & 0x80) {
    // GNU base-256: big-endian, the top bit of the first byte is the marker.
    let value = first & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + (block[start + i] as number);
    return value;
  }
  const text = cstring(block, start, length).trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

function checksumOk(block: Buffer): boolean {
  const stored = number(block, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (block[i] as number);
  return sum === stored;
}

export function normaliseName(name: string): string {
  return name.replace(/^(?:\.\/|\/)+/, '').replace(/\/+$/, '');
}

function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const length = Number.parseInt(data.toString('utf8', pos, space), 10);
    if (!(length > 0)) break;
    const record = data.toString('utf8', space + 1, pos + length - 1);
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    pos += length;
  }
  return out;
}

async function readAt(handle: FileHandle, position: number, length: number, file: string): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) {
      throw new ArchiveError('ARCHIVE_NOT_TAR', `${file} ends in the middle of a tar entry`, {
        hint: 'the archive is truncated; write or download it again',
      });
    }
    done += bytesRead;
  }
  return buffer;
}

/** Reads the headers of the tar at `file`; the map is keyed by normalised name (the last entry wins). */
export async function indexTar(file: string): Promise<Map<string, TarEntry>> {
  const handle = await open(file, 'r');
  try {
    const { size: fileSize } = await handle.stat();
    const entries = new Map<string, TarEntry>();
    let position = 0;
    let longName: string | undefined;
    let pax = new Map<string, string>();
    while (position + BLOCK <= fileSize) {
      const block = await readAt(handle, position, BLOCK, file);
      if (block.every((b) => b === 0)) break;
      if (position === 0 && block[0] === 0x1f && block[1] === 0x8b) {
        throw new ArchiveError('ARCHIVE_COMPRESSED', `${file} is gzip-compressed`, {
          hint: `decompress it first (gunzip < ${file} > image.tar)`,
        });
      }
      if (!checksumOk(block)) {
        throw new ArchiveError(
          'ARCHIVE_NOT_TAR',
          `${file} is not a tar archive (bad header at byte ${position})`,
          {
            hint: 'pass a file written by docker save, skopeo or wharf',
          },
        );
      }
      const type = String.fromCharCode((block[156] as number) || 0x30);
      let size = number(block, 124, 12);
      const dataOffset = position + BLOCK;
      const next = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
      if (type === 'x' || type === 'L' || type === 'g' || type === 'K') {
        if (type === 'x') pax = paxRecords(await readAt(handle, dataOffset, size, file));
        if (type === 'L') longName = cstring(await readAt(handle, dataOffset, size, file), 0, size);
        position = next;
        continue;
      }
      const ustar = block.toString('latin1', 257, 262) === 'ustar';
      const prefix = ustar ? cstring(block, 345, 155) : '';
      let name = cstring(block, 0, 100);
      if (prefix) name = `${prefix}/${name}`;
      if (longName !== undefined) name = longName;
      const paxPath = pax.get('path');
      if (paxPath !== undefined) name = paxPath;
      const paxSize = pax.get('size');
      let end = next;
      if (paxSize !== undefined) {
        size = Number.parseInt(paxSize, 10);
        end = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
      }
      entries.set(normaliseName(name), { name: normaliseName(name), type, offset: dataOffset, size });
      longName = undefined;
      pax = new Map();
      position = end;
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
