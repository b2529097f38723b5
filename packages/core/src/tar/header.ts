/**
 * Tar header encoding: USTAR, with a PAX extended header where USTAR cannot hold a value (a name or
 * link target longer than its field or not ASCII, an id or extra record the caller asks for).
 *
 * The bytes are exactly those `tar-stream` 3 writes for the same header (wharf's layers and archives
 * were written with it before, and their digests must not change): the PAX block and the entry after
 * it are both named `PaxHeader` (the real name is in the `path` record), uname/gname stay empty, and
 * the device numbers are `000000 `. Encoding a header is a few hundred bytes of arithmetic; writers
 * put it straight into their output buffers instead of going through a stream per entry.
 */

/** `character-device` is for overlay whiteouts (0:0): the device numbers are always written as 0. */
export type TarType = 'file' | 'directory' | 'symlink' | 'link' | 'character-device';

export interface TarHeader {
  /** The member name as stored (directories end in `/`; the caller decides). */
  readonly name: string;
  readonly type: TarType;
  /** Permission bits (`0o7777` is kept, the rest dropped). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Content length in bytes (0 for anything but a file). */
  readonly size: number;
  /** Modification time, whole seconds since the epoch. */
  readonly mtime: number;
  /** Symlink or hard link target. */
  readonly linkname?: string;
  /** Extra PAX records (`uid`, `gid`, …), written after `path` and `linkpath`; forces a PAX header. */
  readonly pax?: Readonly<Record<string, string>>;
}

export const BLOCK = 512;
/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE: Buffer = Buffer.alloc(2 * BLOCK);
/** The largest uid/gid a USTAR field holds (6 octal digits); larger ones go in PAX records. */
export const MAX_USTAR_ID = 0o777777;

const TYPEFLAG: Record<TarType | 'pax', number> = {
  file: 0x30,
  link: 0x31,
  symlink: 0x32,
  'character-device': 0x33,
  directory: 0x35,
  pax: 0x78, // 'x'
};

/** Zero bytes that pad `size` content bytes to a whole block. */
export function paddingFor(size: number): number {
  const rest = size % BLOCK;
  return rest === 0 ? 0 : BLOCK - rest;
}

/** How many bytes {@link writeHeader} writes for `header` (512, or more with a PAX header). */
export function headerLength(header: TarHeader): number {
  if (!header.pax && ustarFields(header)) return BLOCK;
  const records = paxRecords(header);
  return 2 * BLOCK + records.byteLength + paddingFor(records.byteLength);
}

/** The header bytes of one member (PAX blocks included), a multiple of 512. */
export function encodeHeader(header: TarHeader): Buffer {
  const out = Buffer.alloc(headerLength(header));
  writeHeader(header, out, 0);
  return out;
}

/**
 * Writes the header of one member into `buf` at `offset` (the bytes there must be zero) and returns
 * how many bytes it wrote (see {@link headerLength}).
 */
export function writeHeader(header: TarHeader, buf: Buffer, offset: number): number {
  const fields = header.pax ? undefined : ustarFields(header);
  if (fields) {
    writeBlock(buf, offset, header, fields.name, fields.prefix, header.linkname, header.type, header.size);
    return BLOCK;
  }
  const records = paxRecords(header);
  const link = header.linkname ? 'PaxHeader' : undefined;
  writeBlock(buf, offset, header, 'PaxHeader', '', link, 'pax', records.byteLength);
  records.copy(buf, offset + BLOCK);
  const next = offset + BLOCK + records.byteLength + paddingFor(records.byteLength);
  writeBlock(buf, next, header, 'PaxHeader', '', link, header.type, header.size);
  return next + BLOCK - offset;
}

/** USTAR name/prefix split, or undefined when the header needs PAX. */
function ustarFields(header: TarHeader): { name: string; prefix: string } | undefined {
  let name = header.name;
  if (Buffer.byteLength(name) !== name.length) return undefined; // not ASCII
  let prefix = '';
  while (name.length > 100) {
    const slash = name.indexOf('/');
    if (slash === -1) return undefined;
    prefix += prefix ? `/${name.slice(0, slash)}` : name.slice(0, slash);
    name = name.slice(slash + 1);
  }
  if (prefix.length > 155) return undefined;
  if (header.linkname && Buffer.byteLength(header.linkname) > 100) return undefined;
  if (header.uid > MAX_USTAR_ID || header.gid > MAX_USTAR_ID) return undefined;
  return { name, prefix };
}

/** `<length> <key>=<value>\n` records: path, linkpath, then the caller's, in that order. */
function paxRecords(header: TarHeader): Buffer {
  let text = record('path', header.name);
  if (header.linkname) text += record('linkpath', header.linkname);
  const extra: Record<string, string> = { ...header.pax };
  if (header.uid > MAX_USTAR_ID && extra.uid === undefined) extra.uid = String(header.uid);
  if (header.gid > MAX_USTAR_ID && extra.gid === undefined) extra.gid = String(header.gid);
  for (const [key, value] of Object.entries(extra)) text += record(key, value);
  return Buffer.from(text);
}

/** A PAX record; its length prefix counts itself. */
function record(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const len = Buffer.byteLength(body);
  let digits = String(len).length;
  if (len + digits >= 10 ** digits) digits++;
  return `${len + digits}${body}`;
}

function writeBlock(
  buf: Buffer,
  at: number,
  header: TarHeader,
  name: string,
  prefix: string,
  linkname: string | undefined,
  type: TarType | 'pax',
  size: number,
): void {
  buf.write(name, at, 100);
  octal(buf, at + 100, header.mode & 0o7777, 6);
  // an id too big for its field is in a PAX record; the field holds 0
  octal(buf, at + 108, header.uid > MAX_USTAR_ID ? 0 : header.uid, 6);
  octal(buf, at + 116, header.gid > MAX_USTAR_ID ? 0 : header.gid, 6);
  writeSize(buf, at + 124, size);
  octal(buf, at + 136, Math.trunc(header.mtime), 11);
  buf[at + 156] = TYPEFLAG[type];
  if (linkname) buf.write(linkname, at + 157, 100);
  buf.write('ustar\u000000', at + 257, 8, 'latin1');
  octal(buf, at + 329, 0, 6); // devmajor
  octal(buf, at + 337, 0, 6); // devminor
  if (prefix) buf.write(prefix, at + 345, 155);
  let sum = 8 * 0x20; // the checksum field counts as spaces
  for (let i = at; i < at + 148; i++) sum += buf[i] as number;
  for (let i = at + 156; i < at + BLOCK; i++) sum += buf[i] as number;
  octal(buf, at + 148, sum, 6);
}

/** `digits` octal digits and a space; all sevens when the value does not fit (as tar-stream does). */
function octal(buf: Buffer, at: number, value: number, digits: number): void {
  const text = value.toString(8);
  const field = text.length > digits ? '7'.repeat(digits) : text.padStart(digits, '0');
  buf.write(`${field} `, at, digits + 1, 'latin1');
}

/** 11 octal digits, or base-256 (GNU) for sizes of 8 GiB and more. */
function writeSize(buf: Buffer, at: number, size: number): void {
  if (size.toString(8).length <= 11) {
    octal(buf, at, size, 11);
    return;
  }
  buf[at] = 0x80;
  let rest = size;
  for (let i = 11; i > 0; i--) {
    buf[at + i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
}
