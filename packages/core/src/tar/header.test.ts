import { pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { BLOCK, encodeHeader, headerLength, paddingFor, type TarHeader } from './header.js';

/** The header bytes tar-stream writes for `header` (what wharf's layers were written with before). */
async function tarStreamHeader(header: TarHeader): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve) => tar.on('end', () => resolve()));
  const big = header.uid > 0o777777 || header.gid > 0o777777;
  const pax: Record<string, string> = { ...header.pax };
  if (header.uid > 0o777777) pax.uid = String(header.uid);
  if (header.gid > 0o777777) pax.gid = String(header.gid);
  const typeBits = {
    file: 0o100000,
    directory: 0o040000,
    symlink: 0o120000,
    link: 0o100000,
    'character-device': 0o020000,
  }[header.type];
  const fields = {
    name: header.name,
    type: header.type,
    mode: header.mode | typeBits,
    uid: header.uid > 0o777777 ? 0 : header.uid,
    gid: header.gid > 0o777777 ? 0 : header.gid,
    uname: '',
    gname: '',
    size: header.size,
    mtime: new Date(header.mtime * 1000),
    ...(header.linkname ? { linkname: header.linkname } : {}),
    ...(big || header.pax ? { pax } : {}),
  };
  await new Promise<void>((resolve, reject) => {
    const callback = (error?: Error | null) => (error ? reject(error) : resolve());
    if (header.type === 'file') tar.entry(fields, Buffer.alloc(header.size), callback);
    else tar.entry(fields, callback);
  });
  tar.finalize();
  await done;
  const all = Buffer.concat(chunks);
  return all.subarray(0, headerLength(header));
}

const base = { mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0 } as const;

const cases: Array<[string, TarHeader]> = [
  ['a file', { ...base, name: 'app/server.js', type: 'file', size: 1234, mtime: 1_700_000_000 }],
  ['a directory', { ...base, name: 'app/', type: 'directory', mode: 0o755 }],
  [
    'setuid, sticky, odd owners',
    { ...base, name: 'usr/bin/su', type: 'file', mode: 0o4755, uid: 1000, gid: 50 },
  ],
  ['a symlink', { ...base, name: 'lib', type: 'symlink', mode: 0o777, linkname: 'usr/lib' }],
  ['a hard link', { ...base, name: 'bin/b', type: 'link', linkname: 'bin/a' }],
  ['a 0:0 character device (overlay whiteout)', { ...base, name: 'etc/gone', type: 'character-device' }],
  ['a 100-byte name', { ...base, name: 'n'.repeat(100), type: 'file' }],
  ['a name split into prefix', { ...base, name: `${'d'.repeat(60)}/${'e'.repeat(60)}/f.txt`, type: 'file' }],
  ['a name with no split point', { ...base, name: 'x'.repeat(130), type: 'file' }],
  ['a prefix over 155 bytes', { ...base, name: `${'a/'.repeat(90)}${'b'.repeat(90)}`, type: 'file' }],
  ['a non-ASCII name', { ...base, name: 'données/été.txt', type: 'file', size: 3 }],
  [
    'a long link target',
    { ...base, name: 'l', type: 'symlink', mode: 0o777, linkname: `/${'t'.repeat(120)}` },
  ],
  ['a non-ASCII link target', { ...base, name: 'l', type: 'symlink', mode: 0o777, linkname: 'café' }],
  ['an id over 6 octal digits', { ...base, name: 'f', type: 'file', uid: 300_000, gid: 5 }],
  ['a huge gid', { ...base, name: 'f', type: 'file', uid: 1, gid: 4_000_000_000 }],
  ['extra PAX records', { ...base, name: 'f', type: 'file', pax: { 'SCHILY.xattr.user.k': 'v' } }],
  ['a PAX record near a power of ten', { ...base, name: 'p'.repeat(89), type: 'file', pax: { k: 'v' } }],
];

describe('encodeHeader', () => {
  it.each(cases)('writes what tar-stream writes: %s', async (_what, header) => {
    const ours = encodeHeader(header);
    expect(ours.byteLength % BLOCK).toBe(0);
    expect(ours.toString('hex')).toBe((await tarStreamHeader(header)).toString('hex'));
  });

  it('puts sizes of 8 GiB and more in base-256', () => {
    const header = encodeHeader({ ...base, name: 'big', type: 'file', size: 2 ** 33 + 5 });
    expect(header[124]).toBe(0x80);
    expect(header.readUIntBE(124 + 6, 6)).toBe(2 ** 33 + 5);
  });

  it('pads content to whole blocks', () => {
    expect([0, 1, 511, 512, 513].map(paddingFor)).toEqual([0, 511, 1, 0, 511]);
  });
});
