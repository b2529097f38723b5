/**
 * Tar parsing: a pull reader over the chunks of an uncompressed tar. {@link TarReader.next} gives the
 * next member's header and {@link TarReader.read} pieces of its content, each a view into the input
 * chunk it arrived in (nothing is copied but a header that straddles two chunks). A small file that
 * sits inside one chunk therefore comes back as one piece, to be written with one call; a big one
 * comes piece by piece, and the next chunk is pulled only when the caller asks for it (backpressure).
 *
 * What it reads is what `tar-stream` 3 read (wharf parsed layers with it before): USTAR (with its
 * prefix field) and GNU headers, unsigned checksums, base-256 numbers, PAX `path`/`linkpath`/`size`
 * and GNU long names and link targets (`L`, `K`, old `N`), PAX global headers ignored, a `5`
 * (directory) member header-only whatever its size field says, unknown type flags passed on as
 * `type: null`, and the same error messages ("Invalid tar header…", "Unexpected end of data", with the
 * byte offset added). On top of that it honours PAX `uid`, `gid` and `mtime` (tar-stream left them in
 * `pax`), accepts signed checksums (as GNU tar and Go do) and gives a `0`/NUL member whose name ends
 * in `/` the type `directory` (old tars; GNU tar and Go do the same, tar-stream meant to but did not).
 * The archive ends at two zero blocks (a single one before the end of the input is enough); the rest
 * of the input is then read and ignored, so that a hash taken over the input sees every byte.
 *
 * The input is untrusted (base images, archives given to push/inspect, ADD archives), so numbers are
 * read as Go's `archive/tar` reads them, not as tar-stream did: an octal field is octal digits between
 * spaces and NULs and nothing else, PAX `size`/`uid`/`gid` are decimal digits and `mtime` a decimal
 * number, and a size, uid, gid or mode that is negative, not a number or beyond 2^53 is an error naming
 * the member and the field. Extended headers (PAX, long names) are limited to 1 MiB, as in Go; PAX
 * records must be well formed. Content is never held: a member of any size (beyond 2 GiB too) is
 * streamed or skipped, and a {@link SkippingInput} (a file) skips it without reading. See README.md.
 *
 * Pure: no I/O of its own, only the chunks it is given.
 */
import { BLOCK, paddingFor } from './header.js';

export type TarEntryType =
  | 'file'
  | 'link'
  | 'symlink'
  | 'character-device'
  | 'block-device'
  | 'directory'
  | 'fifo'
  | 'contiguous-file';

/** One member's header, long names and PAX records applied. */
export interface TarEntry {
  /** The member name as stored: a PAX `path` or GNU long name, else USTAR prefix + `/` + name. */
  readonly name: string;
  /** `null` for a type flag outside POSIX (vendor extensions): the caller decides. */
  readonly type: TarEntryType | null;
  /** The type flag byte as stored (`0x30` is `'0'`). */
  readonly typeflag: number;
  /** The mode field as stored (it may carry file type bits: mask with `0o7777`). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Content length in bytes; a directory has none, whatever this says. */
  readonly size: number;
  /** Modification time in seconds since the epoch (a fraction when PAX gives one). */
  readonly mtime: number;
  /** Symlink or hard link target (`''` when there is none). */
  readonly linkname: string;
  readonly uname: string;
  readonly gname: string;
  readonly devmajor: number;
  readonly devminor: number;
  /** The member's PAX records (`path`, `SCHILY.xattr.<name>`, …), when it has a PAX header. */
  readonly pax: Readonly<Record<string, string>> | undefined;
}

export type TarErrorCode = 'TAR_BAD_HEADER' | 'TAR_TRUNCATED';

/** A malformed or truncated archive. Errors of the input itself are passed on as they are. */
export class TarError extends Error {
  override readonly name: string = 'TarError';
  readonly code: TarErrorCode;
  /** Offset in the input of the block or byte where the problem was found. */
  readonly offset: number;

  constructor(code: TarErrorCode, message: string, offset: number) {
    super(message);
    this.code = code;
    this.offset = offset;
  }
}

/** Extended headers (PAX, GNU long names) larger than this are refused (Go's `maxSpecialFileSize`). */
export const MAX_EXTENDED_HEADER = 1024 * 1024;
/** uids and gids are 32-bit on Linux. */
const MAX_ID = 0xffff_ffff;
const EMPTY = Buffer.alloc(0);
const CHECKSUM_SPACES = 8 * 0x20;

const TYPES: Readonly<Record<number, TarEntryType>> = {
  0: 'file',
  48: 'file',
  49: 'link',
  50: 'symlink',
  51: 'character-device',
  52: 'block-device',
  53: 'directory',
  54: 'fifo',
  55: 'contiguous-file',
};
const PAX = 0x78; // 'x'
const PAX_GLOBAL = 0x67; // 'g'
const GNU_LONG_NAME = 0x4c; // 'L'
const GNU_OLD_LONG_NAME = 0x4e; // 'N'
const GNU_LONG_LINK = 0x4b; // 'K'
const DIRECTORY = 0x35;

type Input = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | SkippingInput;

/**
 * An input that can move forward without reading, such as a file read at an offset: the reader skips
 * member content with {@link skip} instead of reading it, and stops at the end of the archive
 * without reading what follows.
 */
export interface SkippingInput extends AsyncIterable<Uint8Array> {
  /** Moves `n` bytes past what the iterator has given so far; false when the input ends before that. */
  skip(n: number): Promise<boolean>;
}

/**
 * Reads a tar member by member. `next()` skips whatever the caller left of the previous member's
 * content. Iterating it (`for await`) gives the entries and closes the input when the loop is left
 * early; otherwise call {@link close} when giving up before the end.
 */
export class TarReader implements AsyncIterable<TarEntry> {
  readonly #input: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  readonly #skipper: SkippingInput | undefined;
  #chunk: Buffer = EMPTY;
  #pos = 0;
  /** Input offset of `#chunk[0]`. */
  #base = 0;
  #inputDone = false;
  #ended = false;
  /** Content bytes of the current member not read yet, and the padding after them. */
  #remaining = 0;
  #padding = 0;
  readonly #scratch = Buffer.alloc(BLOCK);
  /** The current member, for errors about its content. */
  #entry: TarEntry | undefined;

  constructor(input: Input) {
    this.#skipper = 'skip' in input && typeof input.skip === 'function' ? input : undefined;
    this.#input =
      Symbol.asyncIterator in input
        ? (input as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
        : (input as Iterable<Uint8Array>)[Symbol.iterator]();
  }

  /** Content bytes of the current entry not read yet. */
  get remaining(): number {
    return this.#remaining;
  }

  /** Bytes of input consumed so far. */
  get position(): number {
    return this.#base + this.#pos;
  }

  /** The next entry, or `undefined` at the end of the archive (after which the input is read to its end). */
  async next(): Promise<TarEntry | undefined> {
    if (this.#ended) return undefined;
    const skip = this.#remaining + this.#padding;
    this.#remaining = 0;
    this.#padding = 0;
    if (skip > 0 && !this.#skipBuffered(skip)) await this.#skip(skip);
    this.#entry = undefined; // an end of data from here on is in a header, not in its content
    let pax: Record<string, string> | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      let at = this.position;
      let block = this.#blockBuffered() ?? (await this.#block());
      if (block && isZeroBlock(block)) {
        at = this.position;
        block = this.#blockBuffered() ?? (await this.#block());
        // a lone zero block (the next one is not) is skipped, as tar-stream and `tar -i` do
        if (block && isZeroBlock(block)) block = undefined;
      }
      if (!block) {
        await this.#end();
        return undefined;
      }
      checkBlock(block, at);
      const typeflag = block[156] as number;
      if (
        typeflag === PAX ||
        typeflag === PAX_GLOBAL ||
        typeflag === GNU_LONG_NAME ||
        typeflag === GNU_OLD_LONG_NAME ||
        typeflag === GNU_LONG_LINK
      ) {
        const size = decodeNumber(block, 124, 12);
        if (!(size >= 0) || size > MAX_EXTENDED_HEADER) {
          throw new TarError(
            'TAR_BAD_HEADER',
            `Invalid tar header at byte ${at}: an extended header (type ${String.fromCharCode(typeflag)}) of ${
              Number.isNaN(size) ? `size ${fieldText(block, 124, 12)}` : `${size} bytes`
            }; the limit is ${MAX_EXTENDED_HEADER} bytes`,
            at,
          );
        }
        const data = await this.#bytes(size);
        if (typeflag === PAX) pax = decodePax(data, at);
        else if (typeflag === GNU_LONG_LINK) longLink = decodeString(data, 0, data.byteLength);
        else if (typeflag !== PAX_GLOBAL) longName = decodeString(data, 0, data.byteLength);
        const padding = paddingFor(size);
        if (padding > 0 && !this.#skipBuffered(padding)) await this.#skip(padding);
        continue;
      }
      const entry = decodeEntry(block, at, pax, longName, longLink);
      this.#entry = entry;
      if (entry.typeflag !== DIRECTORY) {
        this.#remaining = entry.size;
        this.#padding = paddingFor(entry.size);
      }
      return entry;
    }
  }

  /**
   * The next piece of the current entry's content, at most `max` bytes: what is buffered of it, or,
   * when nothing is, what the next input chunk holds of it. A view into the input (no copy). `undefined`
   * once the content has been read.
   */
  async read(max = Number.POSITIVE_INFINITY): Promise<Buffer | undefined> {
    if (this.#remaining === 0) return undefined;
    if (this.#pos === this.#chunk.byteLength && !(await this.#pull())) throw this.#truncated();
    const n = Math.min(this.#remaining, this.#chunk.byteLength - this.#pos, max);
    const piece = this.#chunk.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    this.#remaining -= n;
    return piece;
  }

  /** The rest of the current entry's content, piece by piece (see {@link read}). */
  async *content(): AsyncGenerator<Buffer, void, undefined> {
    for (let piece = await this.read(); piece; piece = await this.read()) yield piece;
  }

  /** Stops reading the input (it is closed) unless it was read to its end. */
  async close(): Promise<void> {
    this.#ended = true;
    this.#remaining = 0;
    this.#padding = 0;
    if (this.#inputDone) return;
    this.#inputDone = true;
    await this.#input.return?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<TarEntry, void, undefined> {
    try {
      for (let entry = await this.next(); entry; entry = await this.next()) yield entry;
    } finally {
      await this.close();
    }
  }

  /** Makes the next non-empty input chunk current; false at the end of the input. */
  async #pull(): Promise<boolean> {
    while (!this.#inputDone) {
      const result = await this.#input.next();
      if (result.done) {
        this.#inputDone = true;
        break;
      }
      const value = result.value;
      if (value.byteLength === 0) continue;
      this.#base += this.#chunk.byteLength;
      this.#chunk = Buffer.isBuffer(value)
        ? value
        : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      this.#pos = 0;
      return true;
    }
    this.#base += this.#chunk.byteLength;
    this.#chunk = EMPTY;
    this.#pos = 0;
    return false;
  }

  // The hot paths are synchronous when the current chunk holds what is asked for (a promise each costs).

  /** The next 512 bytes when the current chunk holds them (a view), else `undefined` and nothing is read. */
  #blockBuffered(): Buffer | undefined {
    const pos = this.#pos;
    if (this.#chunk.byteLength - pos < BLOCK) return undefined;
    this.#pos = pos + BLOCK;
    return this.#chunk.subarray(pos, pos + BLOCK);
  }

  /** Skips `n` bytes when the current chunk holds them; false (nothing skipped) when it does not. */
  #skipBuffered(n: number): boolean {
    if (this.#chunk.byteLength - this.#pos < n) return false;
    this.#pos += n;
    return true;
  }

  /** The next 512 bytes (a view, or the scratch block when they straddle chunks); `undefined` at the end. */
  async #block(): Promise<Buffer | undefined> {
    let have = 0;
    while (have < BLOCK) {
      if (this.#pos === this.#chunk.byteLength && !(await this.#pull())) {
        if (have === 0) return undefined;
        throw this.#truncated();
      }
      const n = Math.min(BLOCK - have, this.#chunk.byteLength - this.#pos);
      this.#chunk.copy(this.#scratch, have, this.#pos, this.#pos + n);
      this.#pos += n;
      have += n;
    }
    return this.#scratch;
  }

  /** The next `n` bytes (a view when one chunk holds them, else a copy). */
  async #bytes(n: number): Promise<Buffer> {
    const pos = this.#pos;
    if (this.#chunk.byteLength - pos >= n) {
      this.#pos = pos + n;
      return this.#chunk.subarray(pos, pos + n);
    }
    const out = Buffer.allocUnsafe(n);
    let have = 0;
    while (have < n) {
      if (this.#pos === this.#chunk.byteLength && !(await this.#pull())) throw this.#truncated();
      const take = Math.min(n - have, this.#chunk.byteLength - this.#pos);
      this.#chunk.copy(out, have, this.#pos, this.#pos + take);
      this.#pos += take;
      have += take;
    }
    return out;
  }

  async #skip(n: number): Promise<void> {
    let left = n;
    for (;;) {
      const take = Math.min(left, this.#chunk.byteLength - this.#pos);
      this.#pos += take;
      left -= take;
      if (left === 0) return;
      if (this.#skipper && !this.#inputDone) {
        // drop the rest of the chunk (it was all skipped) and move the input past the remainder
        this.#base += this.#chunk.byteLength;
        this.#chunk = EMPTY;
        this.#pos = 0;
        if (!(await this.#skipper.skip(left))) throw this.#truncated();
        this.#base += left;
        return;
      }
      if (!(await this.#pull())) throw this.#truncated();
    }
  }

  /** End of the archive: the rest of the input is read and dropped (or, when it can skip, closed). */
  async #end(): Promise<void> {
    this.#ended = true;
    if (this.#skipper) {
      await this.close();
      return;
    }
    while (await this.#pull()) this.#pos = this.#chunk.byteLength;
  }

  #truncated(): TarError {
    const entry = this.#entry;
    const where = entry ? ` in the content of "${entry.name}" (${entry.size} bytes claimed)` : '';
    return new TarError(
      'TAR_TRUNCATED',
      `Unexpected end of data at byte ${this.position}${where}`,
      this.position,
    );
  }
}

/** A block whose bytes, checksum field aside, are all zero (tar-stream's test for an end block). */
function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < 148; i++) if (block[i] !== 0) return false;
  for (let i = 156; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** Checksum (unsigned, or signed as some old tars wrote it) and magic (USTAR or GNU). */
function checkBlock(block: Buffer, at: number): void {
  const stored = decodeNumber(block, 148, 8);
  if (stored !== checksum(block, false) && stored !== checksum(block, true)) {
    throw new TarError(
      'TAR_BAD_HEADER',
      `Invalid tar header at byte ${at}. Maybe the tar is corrupted or it needs to be gunzipped?`,
      at,
    );
  }
  // "ustar\0" (POSIX; any version) or "ustar  \0" (GNU)
  const ustar =
    block[257] === 0x75 &&
    block[258] === 0x73 &&
    block[259] === 0x74 &&
    block[260] === 0x61 &&
    block[261] === 0x72;
  const posix = ustar && block[262] === 0;
  const gnu = ustar && block[262] === 0x20 && block[263] === 0x20 && block[264] === 0;
  if (!posix && !gnu) {
    throw new TarError('TAR_BAD_HEADER', `Invalid tar header at byte ${at}: unknown format.`, at);
  }
}

/** The header checksum: the sum of its bytes, the checksum field counted as spaces. */
function checksum(block: Buffer, signed: boolean): number {
  let sum = CHECKSUM_SPACES;
  if (signed) {
    for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += ((block[i] as number) << 24) >> 24;
    return sum;
  }
  for (let i = 0; i < 148; i++) sum += block[i] as number;
  for (let i = 156; i < BLOCK; i++) sum += block[i] as number;
  return sum;
}

function decodeEntry(
  block: Buffer,
  at: number,
  pax: Record<string, string> | undefined,
  longName: string | undefined,
  longLink: string | undefined,
): TarEntry {
  let name = decodeString(block, 0, 100);
  // the prefix field is POSIX only (GNU keeps times there)
  if (block[262] === 0 && block[345] !== 0) name = `${decodeString(block, 345, 155)}/${name}`;
  let linkname = block[157] === 0 ? '' : decodeString(block, 157, 100);
  if (longName !== undefined) name = longName;
  if (longLink !== undefined) linkname = longLink;
  if (pax?.path) name = pax.path;
  if (pax?.linkpath) linkname = pax.linkpath;
  const bad = (shown: string, why: string): TarError =>
    new TarError(
      'TAR_BAD_HEADER',
      `Invalid tar header at byte ${at}: member ${JSON.stringify(name)} has ${shown}, ${why}`,
      at,
    );
  /** A numeric field, from its PAX record when there is one, else from the header block. */
  const number = (field: 'size' | 'uid' | 'gid' | 'mode', offset: number, length: number, max: number) => {
    const record = field === 'mode' ? undefined : pax?.[field];
    const value = record ? decodeDecimal(record) : decodeNumber(block, offset, length);
    const shown = record
      ? `a PAX record ${field}=${JSON.stringify(record)}`
      : `a ${field} field ${fieldText(block, offset, length)}`;
    if (Number.isNaN(value)) throw bad(shown, 'which is not a number');
    if (value < 0) throw bad(shown, 'which is negative');
    if (value > max) throw bad(shown, `beyond the limit of ${max}`);
    return value;
  };
  const size = number('size', 124, 12, Number.MAX_SAFE_INTEGER);
  const uid = number('uid', 108, 8, MAX_ID);
  const gid = number('gid', 116, 8, MAX_ID);
  const mode = number('mode', 100, 8, Number.MAX_SAFE_INTEGER);
  let mtime: number;
  if (pax?.mtime) {
    mtime = /^-?[0-9]{1,15}(\.[0-9]+)?$/.test(pax.mtime) ? Number(pax.mtime) : Number.NaN;
    if (Number.isNaN(mtime))
      throw bad(`a PAX record mtime=${JSON.stringify(pax.mtime)}`, 'which is not a time');
  } else {
    // negative times are valid (before 1970: Go writes them in base-256)
    mtime = decodeNumber(block, 136, 12);
    if (!Number.isFinite(mtime))
      throw bad(`an mtime field ${fieldText(block, 136, 12)}`, 'which is not a number');
  }
  const typeflag = block[156] as number;
  let type: TarEntryType | null = TYPES[typeflag] ?? null;
  // old tars mark directories with a trailing slash only
  if (type === 'file' && name.endsWith('/')) type = 'directory';
  const device = type === 'character-device' || type === 'block-device';
  return {
    name,
    type,
    typeflag,
    mode,
    uid,
    gid,
    size,
    mtime,
    linkname,
    uname: block[265] === 0 ? '' : decodeString(block, 265, 32),
    gname: block[297] === 0 ? '' : decodeString(block, 297, 32),
    // only devices use these; garbage there elsewhere is ignored, as the fields are
    devmajor: device ? deviceNumber(block, 329, bad) : 0,
    devminor: device ? deviceNumber(block, 337, bad) : 0,
    pax,
  };
}

function deviceNumber(block: Buffer, offset: number, bad: (shown: string, why: string) => TarError) {
  const value = decodeNumber(block, offset, 8);
  if (!(value >= 0))
    throw bad(`a device number field ${fieldText(block, offset, 8)}`, 'which is not a number');
  return value;
}

/** A field's bytes for an error message: printable ASCII as is, other bytes as `\xNN`. */
function fieldText(buf: Buffer, offset: number, length: number): string {
  let end = offset + length;
  while (end > offset && buf[end - 1] === 0) end--;
  let out = '';
  for (let i = offset; i < end; i++) {
    const byte = buf[i] as number;
    out +=
      byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c
        ? String.fromCharCode(byte)
        : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `"${out}"`;
}

/** UTF-8 text up to the first NUL in `length` bytes at `offset`. */
function decodeString(buf: Buffer, offset: number, length: number): string {
  let end = offset;
  const limit = offset + length;
  while (end < limit && buf[end] !== 0) end++;
  return buf.toString('utf8', offset, end);
}

const isDigit = (byte: number): boolean => byte >= 0x30 && byte <= 0x39;

/** A PAX decimal record (`size`, `uid`, `gid`): digits only, else NaN. */
function decodeDecimal(text: string): number {
  return /^[0-9]{1,20}$/.test(text) ? Number(text) : Number.NaN;
}

/**
 * A numeric field as Go's `archive/tar` reads it: base-256 when the first byte has its top bit set
 * (two's complement, so `0xff…` is negative), else octal digits with spaces and NULs around them and
 * nothing else (an empty field is 0). Garbage is NaN; values beyond 2^53 are ±Infinity.
 */
function decodeNumber(buf: Buffer, offset: number, length: number): number {
  const end = offset + length;
  const first = buf[offset] as number;
  if (first & 0x80) {
    const invert = first & 0x40 ? 0xff : 0;
    let sum = (first ^ invert) & 0x7f;
    for (let i = offset + 1; i < end; i++) {
      sum = sum * 256 + ((buf[i] as number) ^ invert);
      if (sum > Number.MAX_SAFE_INTEGER) return invert ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    }
    return invert ? -sum - 1 : sum;
  }
  let i = offset;
  let last = end;
  while (i < last && (buf[i] === 0x20 || buf[i] === 0)) i++;
  while (last > i && (buf[last - 1] === 0x20 || buf[last - 1] === 0)) last--;
  let value = 0;
  for (; i < last; i++) {
    const d = (buf[i] as number) - 0x30;
    if (d < 0 || d > 7) return Number.NaN;
    value = value * 8 + d;
  }
  return value;
}

/**
 * `<length> <key>=<value>\n` records, checked as Go checks them: a decimal length that covers the
 * whole record, a newline at its end, a non-empty key without `=`, no NUL in a key or in a path.
 */
function decodePax(buf: Buffer, at: number): Record<string, string> {
  const result: Record<string, string> = {};
  const bad = (why: string) =>
    new TarError('TAR_BAD_HEADER', `Invalid tar header at byte ${at}: a PAX header ${why}`, at);
  let pos = 0;
  // a PAX header may end in NULs (padding some writers leave inside the size)
  let end = buf.byteLength;
  while (end > 0 && buf[end - 1] === 0) end--;
  while (pos < end) {
    let space = pos;
    while (space < end && space - pos < 20 && isDigit(buf[space] as number)) space++;
    const len = Number(buf.toString('latin1', pos, space));
    if (space === pos || buf[space] !== 0x20 || !(len > space - pos + 1) || pos + len > end) {
      throw bad(`record at offset ${pos} has a bad length`);
    }
    if (buf[pos + len - 1] !== 0x0a) throw bad(`record at offset ${pos} does not end in a newline`);
    const record = buf.subarray(space + 1, pos + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw bad(`record at offset ${pos} has no key`);
    const key = record.toString('utf8', 0, eq);
    const value = record.toString('utf8', eq + 1);
    const isName = key === 'path' || key === 'linkpath' || key === 'uname' || key === 'gname';
    if (key.includes('\0') || (isName && value.includes('\0'))) throw bad(`record ${key} holds a NUL byte`);
    result[key] = value;
    pos += len;
  }
  return result;
}
