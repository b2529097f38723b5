import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract as tarExtract } from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { BLOCK, END_OF_ARCHIVE, encodeHeader, paddingFor, type TarHeader } from './header.js';
import { MAX_EXTENDED_HEADER, type TarEntry, TarError, TarReader } from './reader.js';

/** A member as the tests compare it: the header fields callers use, and the content. */
interface Read {
  name: string;
  type: TarEntry['type'];
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  content: string;
}

async function readAll(input: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Read[]> {
  const reader = new TarReader(input);
  const out: Read[] = [];
  for await (const entry of reader) {
    const pieces: Buffer[] = [];
    for await (const piece of reader.content()) pieces.push(Buffer.from(piece));
    const { name, type, mode, uid, gid, size, mtime, linkname } = entry;
    out.push({
      name,
      type,
      mode,
      uid,
      gid,
      size,
      mtime,
      linkname,
      content: Buffer.concat(pieces).toString(),
    });
  }
  return out;
}

/** What tar-stream reads from the same bytes (wharf parsed layers with it before). */
async function readWithTarStream(tar: Buffer): Promise<Read[]> {
  const ex = tarExtract();
  const out: Read[] = [];
  const done = (async () => {
    for await (const entry of ex) {
      const pieces: Buffer[] = [];
      for await (const piece of entry) pieces.push(piece as Buffer);
      const h = entry.header;
      out.push({
        name: h.name,
        type: h.type ?? null,
        mode: h.mode ?? 0,
        uid: h.uid ?? 0,
        gid: h.gid ?? 0,
        size: h.size ?? 0,
        mtime: (h.mtime?.getTime() ?? 0) / 1000,
        linkname: h.linkname ?? '',
        content: Buffer.concat(pieces).toString(),
      });
    }
  })();
  ex.end(tar);
  await done;
  return out;
}

async function skipTo(reader: TarReader, name: string): Promise<void> {
  for (let entry = await reader.next(); entry; entry = await reader.next()) if (entry.name === name) return;
  throw new Error(`no ${name} in the tar`);
}

function chunked(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.byteLength; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

async function* slowly(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) {
    await new Promise((resolve) => setImmediate(resolve));
    yield chunk;
  }
}

/** A tar of `members` made with wharf's header encoder (byte-identical to tar-stream's pack). */
function makeTar(
  members: readonly (Partial<TarHeader> & { name: string; data?: string | Buffer })[],
): Buffer {
  const parts: Buffer[] = [];
  for (const { data, ...header } of members) {
    const content = typeof data === 'string' ? Buffer.from(data) : (data ?? Buffer.alloc(0));
    const type = header.type ?? 'file';
    parts.push(
      encodeHeader({
        mode: type === 'directory' ? 0o755 : 0o644,
        uid: 0,
        gid: 0,
        mtime: 1_700_000_000,
        ...header,
        type,
        size: type === 'file' ? content.byteLength : 0,
      }),
      content,
      Buffer.alloc(paddingFor(content.byteLength)),
    );
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

/** Recomputes a header block's checksum after a test changed its bytes. */
function fixChecksum(block: Buffer): Buffer {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i] as number;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

const mixed = makeTar([
  { name: 'dir/', type: 'directory', mode: 0o750, uid: 1000, gid: 1001 },
  { name: 'dir/empty', data: '' },
  { name: 'dir/511', data: 'a'.repeat(511) },
  { name: 'dir/512', data: 'b'.repeat(512) },
  { name: 'dir/513', data: 'c'.repeat(513), mode: 0o4755 },
  { name: 'dir/big', data: Buffer.alloc(100_003, 'xyz') },
  { name: `${'long/'.repeat(30)}ustar-prefix`, data: 'prefix + name' },
  { name: `pax-${'n'.repeat(150)}`, data: 'a PAX path' },
  { name: 'dir/ünïcødé', data: 'PAX, not ASCII' },
  { name: 'dir/link', type: 'symlink', linkname: `../${'t'.repeat(120)}` },
  { name: 'dir/hard', type: 'link', linkname: 'dir/511' },
  { name: 'dir/bigids', uid: 5_000_000, gid: 7_000_000, data: 'PAX uid/gid' },
  { name: 'dir/xattr', pax: { 'SCHILY.xattr.user.k': 'v' }, data: 'x' },
]);

describe('TarReader', () => {
  it('reads what tar-stream reads, from chunks of any size', async () => {
    const expected = (await readWithTarStream(mixed)).map((e) =>
      // tar-stream leaves PAX uid/gid in its `pax` field; the reader applies them
      e.name === 'dir/bigids' ? { ...e, uid: 5_000_000, gid: 7_000_000 } : e,
    );
    expect(expected.map((e) => e.name)).toContain(`pax-${'n'.repeat(150)}`);
    expect(await readAll([mixed])).toEqual(expected);
    for (const size of [1, 7, 511, 512, 513, 4099, 65536]) {
      expect(await readAll(chunked(mixed, size)), `chunks of ${size}`).toEqual(expected);
    }
    expect(await readAll(slowly(chunked(mixed, 1000)))).toEqual(expected);
    // plain Uint8Arrays, not Buffers
    expect(await readAll(chunked(mixed, 3000).map((b) => new Uint8Array(b)))).toEqual(expected);
    // one-byte chunks of ~110 kB are ~110k reads: ~1 s alone, 8 s on two loaded cores
  }, 30_000);

  it('gives content as views of the input: one piece when one chunk holds it', async () => {
    const reader = new TarReader([mixed]);
    await skipTo(reader, 'dir/big');
    expect(reader.remaining).toBe(100_003);
    const piece = await reader.read();
    expect(piece?.byteLength).toBe(100_003);
    expect(piece?.buffer).toBe(mixed.buffer);
    expect(await reader.read()).toBeUndefined();
  });

  it('reads at most `max` bytes, and next() skips what was left unread', async () => {
    const reader = new TarReader(chunked(mixed, 100));
    await skipTo(reader, 'dir/513');
    expect((await reader.read(10))?.toString()).toBe('c'.repeat(10));
    expect(reader.remaining).toBe(503);
    expect((await reader.next())?.name).toBe('dir/big');
  });

  it('applies PAX records: path, linkpath, uid, gid, mtime, and exposes xattrs', async () => {
    const tar = makeTar([
      {
        name: 'p',
        pax: { mtime: '1700000000.25', 'SCHILY.xattr.trusted.overlay.opaque': 'y' },
        data: 'x',
      },
    ]);
    const entry = await new TarReader([tar]).next();
    expect(entry?.name).toBe('p');
    expect(entry?.mtime).toBe(1_700_000_000.25);
    expect(entry?.pax).toMatchObject({ path: 'p', 'SCHILY.xattr.trusted.overlay.opaque': 'y' });
    const [bigIds] = await readAll([makeTar([{ name: 'f', uid: 2 ** 31, gid: 0o10000000, data: '' }])]);
    expect(bigIds).toMatchObject({ name: 'f', uid: 2 ** 31, gid: 0o10000000 });
  });

  it('ignores PAX global headers', async () => {
    const records = Buffer.from('16 path=global\n12 uid=77\n');
    const global = encodeHeader({
      name: 'pax_global_header',
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: records.byteLength,
      mtime: 0,
    });
    global[156] = 0x67; // 'g'
    fixChecksum(global);
    const tar = Buffer.concat([global, records, Buffer.alloc(paddingFor(records.byteLength)), mixed]);
    expect(await readAll(chunked(tar, 100))).toEqual(await readAll([mixed]));
  });

  it('reads base-256 numbers (GNU) and signed checksums', async () => {
    const tar = makeTar([{ name: 'f', data: 'z'.repeat(1000) }]);
    const header = tar.subarray(0, BLOCK);
    header.fill(0, 124, 136);
    header[124] = 0x80;
    header.writeUInt16BE(1000, 134); // size 1000, base-256
    header.fill(0, 108, 116);
    header[108] = 0x80;
    header.writeUInt32BE(3_000_000_000, 112); // uid, base-256
    header.write('\u00e9'.repeat(10), 265, 'latin1'); // bytes > 127 in the uname: signed and unsigned sums differ
    fixChecksum(header);
    expect(await readAll([tar])).toMatchObject([{ name: 'f', size: 1000, uid: 3_000_000_000 }]);
    let signed = 0x20 * 8;
    for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) signed += ((header[i] as number) << 24) >> 24;
    header.write(`${signed.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    expect(await readAll([tar])).toMatchObject([{ name: 'f', size: 1000 }]);
  });

  it('treats a "0" member whose name ends in "/" as a directory (old tars)', async () => {
    const tar = makeTar([
      { name: 'old/', data: '' },
      { name: 'old/f', data: 'f' },
    ]);
    const nul = makeTar([
      { name: 'nul/', data: '' },
      { name: 'nulfile', data: 'n' },
    ]);
    for (const block of [nul.subarray(0, BLOCK), nul.subarray(BLOCK, 2 * BLOCK)]) {
      block[156] = 0;
      fixChecksum(block);
    }
    expect((await readAll([tar])).map((e) => `${e.name}:${e.type}`)).toEqual([
      'old/:directory',
      'old/f:file',
    ]);
    expect((await readAll([nul])).map((e) => `${e.name}:${e.type}`)).toEqual([
      'nul/:directory',
      'nulfile:file',
    ]);
  });

  describe('the end of the archive', () => {
    const one = makeTar([{ name: 'a', data: 'a' }]);
    const body = one.subarray(0, one.byteLength - 2 * BLOCK);

    it('is two zero blocks, or one before the end of the input, or the end of the input', async () => {
      for (const tar of [one, Buffer.concat([body, Buffer.alloc(BLOCK)]), body]) {
        expect((await readAll(chunked(tar, 300))).map((e) => e.name)).toEqual(['a']);
      }
      expect(await readAll([])).toEqual([]);
    });

    it('reads and drops what follows, so a hash of the input sees every byte', async () => {
      const trailing = Buffer.concat([
        one,
        makeTar([{ name: 'after-the-end', data: 'x' }]),
        Buffer.alloc(9000),
      ]);
      let seen = 0;
      async function* counted() {
        for (const chunk of chunked(trailing, 1000)) {
          seen += chunk.byteLength;
          yield chunk;
        }
      }
      const reader = new TarReader(counted());
      expect((await reader.next())?.name).toBe('a');
      expect(await reader.next()).toBeUndefined();
      expect(seen).toBe(trailing.byteLength);
      expect(reader.position).toBe(trailing.byteLength);
    });

    it('skips a lone zero block between members, as tar-stream did', async () => {
      const two = makeTar([{ name: 'b', data: 'b' }]);
      const tar = Buffer.concat([body, Buffer.alloc(BLOCK), two]);
      expect((await readAll(chunked(tar, 7))).map((e) => e.name)).toEqual(['a', 'b']);
    });
  });

  describe('errors', () => {
    async function error(input: Buffer | Buffer[]): Promise<TarError> {
      const caught = await readAll(Array.isArray(input) ? input : [input]).catch((e: unknown) => e);
      expect(caught).toBeInstanceOf(TarError);
      return caught as TarError;
    }

    it("rejects a bad checksum or an unknown format, with tar-stream's words and the offset", async () => {
      const bad = Buffer.from(mixed);
      bad[BLOCK + 3] = 0x41; // the second header (dir/empty): name changed, checksum not
      const e = await error(chunked(bad, 100));
      expect(e.code).toBe('TAR_BAD_HEADER');
      expect(e.message).toBe(
        'Invalid tar header at byte 512. Maybe the tar is corrupted or it needs to be gunzipped?',
      );
      const v7 = Buffer.from(mixed);
      v7.fill(0, 257, 265);
      fixChecksum(v7.subarray(0, BLOCK));
      expect((await error(v7)).message).toMatch(/^Invalid tar header at byte 0: unknown format/);
      expect((await error(Buffer.from('{"not":"a tar"}'.repeat(100)))).code).toBe('TAR_BAD_HEADER');
    });

    it('rejects truncated input', async () => {
      const inContent = await error(mixed.subarray(0, 3 * BLOCK + 100));
      expect(inContent.code).toBe('TAR_TRUNCATED');
      expect(inContent.message).toMatch(
        /^Unexpected end of data at byte \d+ in the content of "dir\/511" \(511 bytes claimed\)$/,
      );
      const inHeader = await error(chunked(mixed.subarray(0, BLOCK + 200), 64));
      expect(inHeader.code).toBe('TAR_TRUNCATED');
      expect(inHeader.message).toBe(`Unexpected end of data at byte ${BLOCK + 200}`);
      // in the padding after the content: also truncated (tar-stream: the same)
      expect((await error(mixed.subarray(0, 3 * BLOCK + 1))).code).toBe('TAR_TRUNCATED');
    });

    it("passes the input's own errors on, and closes the input when the caller stops", async () => {
      async function* failing() {
        yield mixed.subarray(0, 2000);
        throw new Error('disk on fire');
      }
      await expect(readAll(failing())).rejects.toThrow('disk on fire');
      let closed = false;
      async function* watched() {
        try {
          yield* chunked(mixed, 1000);
        } finally {
          closed = true;
        }
      }
      const reader = new TarReader(watched());
      for await (const entry of reader) if (entry.name === 'dir/512') break;
      expect(closed).toBe(true);
    });
  });
});

describe('TarReader on hostile headers', () => {
  /** A one-member tar whose header block `edit` changes (the checksum is fixed after). */
  function edited(edit: (block: Buffer) => void, member: Partial<TarHeader> = {}): Buffer {
    const tar = makeTar([{ name: 'victim', data: 'x'.repeat(600), ...member }]);
    const header = tar.subarray(tar.byteLength - 2 * BLOCK - 2 * BLOCK - BLOCK, tar.byteLength);
    // the member's own header is the last header block: 600 bytes of content take two blocks
    const block = header.subarray(0, BLOCK);
    edit(block);
    fixChecksum(block);
    return tar;
  }
  const octalField = (at: number, length: number, text: string) => (block: Buffer) => {
    block.fill(0, at, at + length);
    block.write(text, at, 'latin1');
  };
  /** A base-256 field ending in `bytes`; a negative one (first byte 0xff) is 0xff-filled. */
  const base256 = (at: number, length: number, bytes: number[]) => (block: Buffer) => {
    block.fill(bytes[0] === 0xff ? 0xff : 0, at, at + length);
    Buffer.from(bytes).copy(block, at + length - bytes.length);
    block[at] = (block[at] as number) | 0x80;
  };
  /** The header block of an extended header (`x` PAX, `L` GNU long name) of `size` bytes. */
  function extendedHeader(typeflag: number, size: number): Buffer {
    const header = encodeHeader({ name: 'ext', type: 'file', mode: 0, uid: 0, gid: 0, size, mtime: 0 });
    header[156] = typeflag;
    return fixChecksum(header);
  }
  const withPax = (pax: Record<string, string>) => makeTar([{ name: 'victim', data: 'x'.repeat(600), pax }]);

  const cases: [string, () => Buffer, RegExp][] = [
    [
      'a negative octal size',
      () => edited(octalField(124, 12, '-0001000')),
      /"victim".*size field "-0001000", which is not a number/,
    ],
    ['garbage after the size digits', () => edited(octalField(124, 12, '0001130x')), /size field "0001130x"/],
    [
      'a negative base-256 size',
      () =>
        edited(
          base256(
            124,
            12,
            [0xff, 0xff, 0xfe, 0x00].map((b) => b),
          ),
        ),
      /size field .*negative/,
    ],
    [
      'a base-256 size beyond 2^53',
      () => edited(base256(124, 12, [0x7f, ...new Array(8).fill(0xff)])),
      /size field .*beyond the limit/,
    ],
    [
      'a negative PAX size',
      () => withPax({ size: '-1536' }),
      /"victim".*PAX record size="-1536", which is not a number/,
    ],
    ['a PAX size with trailing text', () => withPax({ size: '600abc' }), /PAX record size="600abc"/],
    ['a fractional PAX size', () => withPax({ size: '600.5' }), /PAX record size="600.5"/],
    ['a PAX uid that is not a number', () => withPax({ uid: 'root' }), /PAX record uid="root"/],
    ['a negative PAX gid', () => withPax({ gid: '-1' }), /PAX record gid="-1"/],
    ['a PAX uid beyond 32 bits', () => withPax({ uid: '4294967296' }), /uid="4294967296", beyond the limit/],
    [
      'a PAX mtime that is not a time',
      () => withPax({ mtime: '1e99' }),
      /PAX record mtime="1e99", which is not a time/,
    ],
    ['a negative octal uid', () => edited(octalField(108, 8, '-000001')), /uid field "-000001"/],
    ['a negative base-256 mode', () => edited(base256(100, 8, [0xff, 0xff])), /mode field .*negative/],
    [
      'an mtime that is not a number',
      () => edited(octalField(136, 12, 'yesterday')),
      /mtime field "yesterday"/,
    ],
    [
      'a checksum that is not a number',
      () => edited(() => {}, {}).fill(0x41, 148, 150),
      /Invalid tar header at byte 0/,
    ],
  ];

  it.each(cases)('rejects %s, naming the member and the field', async (_, make, message) => {
    const caught = await readAll(chunked(make(), 700)).catch((e: unknown) => e);
    expect(caught).toBeInstanceOf(TarError);
    expect((caught as TarError).code).toBe('TAR_BAD_HEADER');
    expect((caught as TarError).message).toMatch(message);
  });

  it('accepts negative mtimes (before 1970), as Go writes them', async () => {
    const tar = edited(base256(136, 12, [0xff, 0xff, 0xff, 0xf6])); // -10 in two's complement
    expect((await readAll([tar]))[0]?.mtime).toBe(-10);
    expect((await readAll([withPax({ mtime: '-86400.5' })]))[0]?.mtime).toBe(-86400.5);
  });

  it('streams sizes beyond 2 GiB and 8 GiB and stops at the end of the input, naming the member', async () => {
    for (const tar of [withPax({ size: '4000000000' }), edited(base256(124, 12, [0x02, 0, 0, 0, 0]))]) {
      const started = Date.now();
      const caught = await readAll(chunked(tar, 512)).catch((e: unknown) => e);
      expect((caught as TarError).code).toBe('TAR_TRUNCATED');
      expect((caught as TarError).message).toMatch(
        /in the content of "victim" \((4000000000|8589934592) bytes claimed\)/,
      );
      expect(Date.now() - started).toBeLessThan(1000);
    }
  });

  it('limits extended headers to 1 MiB (PAX, GNU long names)', async () => {
    const big = 'n'.repeat(MAX_EXTENDED_HEADER + 1);
    const pax = makeTar([{ name: big, data: 'x' }]);
    await expect(readAll([pax])).rejects.toThrow(
      /extended header \(type x\) of 1048[0-9]+ bytes; the limit is 1048576/,
    );
    const longName = Buffer.from(big);
    const gnu = Buffer.concat([
      extendedHeader(0x4c, longName.byteLength), // 'L'
      longName,
      Buffer.alloc(paddingFor(longName.byteLength)),
      makeTar([{ name: 'f' }]),
    ]);
    await expect(readAll([gnu])).rejects.toThrow(/extended header \(type L\)/);
    // a claimed size, nothing behind it: refused before anything is allocated
    await expect(readAll([extendedHeader(0x78, 4_000_000_000)])).rejects.toThrow(
      /of 4000000000 bytes; the limit/,
    );
  });

  it('rejects malformed PAX records', async () => {
    const records = [
      '99 path=x\n', // length beyond the header
      '5 a\n', // no key=value
      'x path=y\n', // length not a number
      '12 path=abcd', // no newline at the end
      '11 =value\n', // empty key
      '14 path=a\u0000b\n', // NUL in a path
    ];
    for (const text of records) {
      const data = Buffer.from(text);
      const header = extendedHeader(0x78, data.byteLength);
      const tar = Buffer.concat([
        header,
        data,
        Buffer.alloc(paddingFor(data.byteLength)),
        makeTar([{ name: 'f' }]),
      ]);
      await expect(readAll([tar]), text).rejects.toThrow(/a PAX header record/);
    }
  });

  it('skips content with a skipping input without reading it', async () => {
    const tar = makeTar([
      { name: 'a', data: 'a'.repeat(5000) },
      { name: 'b', data: 'b' },
    ]);
    let position = 0;
    let read = 0;
    const input = {
      async *[Symbol.asyncIterator]() {
        while (position < tar.byteLength) {
          const chunk = tar.subarray(position, position + 512);
          position += chunk.byteLength;
          read += chunk.byteLength;
          yield chunk;
        }
      },
      async skip(n: number) {
        position += n;
        return position <= tar.byteLength;
      },
    };
    const reader = new TarReader(input);
    expect((await reader.next())?.name).toBe('a');
    expect(reader.position).toBe(512);
    expect((await reader.next())?.name).toBe('b');
    expect(reader.position).toBe(512 + 5120 + 512);
    expect(await reader.content().next()).toMatchObject({ value: Buffer.from('b') });
    expect(await reader.next()).toBeUndefined();
    expect(read).toBe(tar.byteLength - 5120); // all but a's content
    const short = { ...input, skip: async () => false };
    position = 0;
    const truncated = new TarReader(short);
    await truncated.next();
    await expect(truncated.next()).rejects.toThrow(/in the content of "a" \(5000 bytes claimed\)/);
  });
});

describe.skipIf(!hasGnuTar())('TarReader on GNU tar archives', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it.each(['gnu', 'oldgnu', 'posix', 'ustar'])(
    '--format=%s: long names, link targets, prefixes',
    async (format) => {
      const root = mkdtempSync(join(tmpdir(), 'wharf-tar-reader-'));
      dirs.push(root);
      const longDir = `${'d'.repeat(60)}/${'e'.repeat(60)}`;
      mkdirSync(join(root, longDir), { recursive: true });
      writeFileSync(join(root, longDir, 'file.txt'), 'in a long directory');
      const longName = format === 'ustar' ? 'short' : 'f'.repeat(180);
      writeFileSync(join(root, longName), 'long name');
      const longTarget = format === 'ustar' ? 'short' : `./${'t'.repeat(150)}`;
      symlinkSync(longTarget, join(root, 'link'));
      const tar = execFileSync('tar', [
        `--format=${format}`,
        '--sort=name',
        '--owner=0',
        '--group=0',
        '-C',
        root,
        '-cf',
        '-',
        '.',
      ]);
      const whole = await readAll([tar]);
      const names = whole.map((e) => `${e.name}:${e.type}`);
      expect(names).toContain(`./${longDir}/:directory`);
      expect(names).toContain(`./${longDir}/file.txt:file`);
      expect(names).toContain(`./${longName}:file`);
      expect(whole.find((e) => e.name === './link')).toMatchObject({ type: 'symlink', linkname: longTarget });
      expect(whole.find((e) => e.name === `./${longName}`)?.content).toBe('long name');
      for (const size of [1, 7, 511, 513]) expect(await readAll(chunked(tar, size))).toEqual(whole);
    },
  );
});

function hasGnuTar(): boolean {
  try {
    return execFileSync('tar', ['--version']).toString().includes('GNU tar');
  } catch {
    return false;
  }
}
