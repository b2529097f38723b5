import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Header, pack as tarPack } from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { END_OF_ARCHIVE, encodeHeader } from '../tar/header.js';
import { extractLayer } from './extract.js';
import { readOpaqueDirs } from './overlay-attrs.js';

type Member = Partial<Header> & { name: string; data?: string };

/** A tar built in memory from `members` (files by default). */
export async function makeTar(members: readonly Member[]): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const { data, ...header } of members) {
    const type = header.type ?? 'file';
    const full = {
      mode: type === 'directory' ? 0o755 : 0o644,
      uid: 0,
      gid: 0,
      mtime: new Date(0),
      ...header,
      type,
    };
    if (type === 'file') pack.entry(full, data ?? '');
    else pack.entry(full);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-extract-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function extractInto(members: readonly Member[], format: 'overlay' | 'apply', dir?: string) {
  const root = dir ?? join(scratch(), 'root');
  mkdirSync(root, { recursive: true });
  const result = await extractLayer([await makeTar(members)], root, { format, label: 'test layer' });
  return { root, result };
}

describe('extractLayer: contents', () => {
  it('writes files, directories, symlinks and hard links with their modes and mtimes', async () => {
    const { root, result } = await extractInto(
      [
        { name: './', type: 'directory', mode: 0o755 },
        { name: 'bin/', type: 'directory', mode: 0o755 },
        { name: 'bin/tool', data: '#!/bin/sh\n', mode: 0o4755, mtime: new Date(1_000_000_000_000) },
        { name: 'bin/alias', type: 'symlink', linkname: 'tool' },
        { name: 'bin/same', type: 'link', linkname: 'bin/tool' },
        { name: '/abs/name', data: 'leading slash dropped' },
        { name: 'ro/', type: 'directory', mode: 0o555 },
        { name: 'ro/inside', data: 'written before the directory became 0555' },
        { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 },
      ],
      'apply',
    );
    expect(readFileSync(join(root, 'bin/tool'), 'utf8')).toBe('#!/bin/sh\n');
    expect(lstatSync(join(root, 'bin/tool')).mode & 0o7777).toBe(0o4755);
    expect(lstatSync(join(root, 'bin/tool')).mtimeMs).toBe(1_000_000_000_000);
    expect(readlinkSync(join(root, 'bin/alias'))).toBe('tool');
    expect(lstatSync(join(root, 'bin/same')).ino).toBe(lstatSync(join(root, 'bin/tool')).ino);
    expect(readFileSync(join(root, 'abs/name'), 'utf8')).toBe('leading slash dropped');
    expect(lstatSync(join(root, 'ro')).mode & 0o777).toBe(0o555);
    expect(readFileSync(join(root, 'ro/inside'), 'utf8')).toContain('before');
    expect(existsSync(join(root, 'dev/null'))).toBe(false);
    expect(result.skipped).toEqual(['dev/null']);
  });

  it.skipIf(!isRoot)('keeps owners (as root)', async () => {
    const { root } = await extractInto(
      [
        { name: 'home/app/', type: 'directory', uid: 1000, gid: 1000 },
        { name: 'home/app/.profile', uid: 1000, gid: 1001, data: 'x' },
        { name: 'home/app/link', type: 'symlink', linkname: '.profile', uid: 1000, gid: 1000 },
      ],
      'apply',
    );
    expect(lstatSync(join(root, 'home/app')).uid).toBe(1000);
    expect(lstatSync(join(root, 'home/app/.profile')).gid).toBe(1001);
    expect(lstatSync(join(root, 'home/app/link')).uid).toBe(1000);
  });

  it('apply format: whiteouts delete and an opaque marker hides what older layers had', async () => {
    const { root } = await extractInto(
      [
        { name: 'keep', data: 'k' },
        { name: 'gone', data: 'g' },
        { name: 'dir/', type: 'directory' },
        { name: 'dir/old', data: 'o' },
        { name: 'dir/sub/old', data: 'o' },
      ],
      'apply',
    );
    await extractInto(
      [
        { name: '.wh.gone' },
        { name: 'dir/', type: 'directory' },
        { name: 'dir/.wh..wh..opq' },
        { name: 'dir/new', data: 'n' },
        { name: '.wh.not-there' },
      ],
      'apply',
      root,
    );
    expect(readdirSync(root).sort()).toEqual(['dir', 'keep']);
    expect(readdirSync(join(root, 'dir'))).toEqual(['new']);
  });

  it('a later entry replaces an earlier one; a directory over a directory merges', async () => {
    const { root } = await extractInto(
      [
        { name: 'x', data: 'file first' },
        { name: 'x/', type: 'directory' },
        { name: 'x/y', data: 'y' },
        { name: 'x/', type: 'directory', mode: 0o700 },
        { name: 'l', type: 'symlink', linkname: '/etc' },
        { name: 'l', data: 'a file replaces the link, never writes through it' },
      ],
      'apply',
    );
    expect(readFileSync(join(root, 'x/y'), 'utf8')).toBe('y');
    expect(lstatSync(join(root, 'x')).mode & 0o777).toBe(0o700);
    expect(lstatSync(join(root, 'l')).isFile()).toBe(true);
  });

  it.skipIf(!isRoot)(
    'overlay format: whiteouts become char 0:0 devices, opaque markers an xattr',
    async () => {
      const { root, result } = await extractInto(
        [
          { name: 'a/', type: 'directory', mode: 0o750 },
          { name: 'a/.wh..wh..opq' },
          { name: 'a/fresh', data: 'f' },
          { name: 'b/.wh.deleted' },
          { name: '.wh.top' },
        ],
        'overlay',
      );
      for (const w of ['b/deleted', 'top']) {
        const st = lstatSync(join(root, w));
        expect(st.isCharacterDevice()).toBe(true);
        expect(st.rdev).toBe(0);
      }
      expect([...(await readOpaqueDirs(root, ['a', 'b']))]).toEqual(['a']);
      expect(lstatSync(join(root, 'a')).mode & 0o777).toBe(0o750);
      expect(result.whiteouts).toEqual(['b/deleted', 'top']);
      expect(result.opaque).toEqual(['a']);
      // nothing named .wh.* is left on disk
      expect(execFileSync('find', [root, '-name', '.wh.*']).toString()).toBe('');
    },
  );
});

describe('extractLayer: never writes outside its directory', () => {
  async function rejects(members: readonly Member[], format: 'overlay' | 'apply' = 'apply') {
    const parent = scratch();
    const root = join(parent, 'root');
    mkdirSync(root);
    mkdirSync(join(parent, 'outside'));
    const error = await extractLayer([await makeTar(members)], root, { format, label: 'evil' }).catch(
      (e: unknown) => e,
    );
    expect(readdirSync(join(parent, 'outside'))).toEqual([]);
    expect(readdirSync(parent).sort()).toEqual(['outside', 'root']);
    return error as { code?: string; message: string };
  }

  it('rejects ".." in member names', async () => {
    const error = await rejects([{ name: '../outside/pwned', data: 'x' }]);
    expect(error.code).toBe('RUNTIME_UNSAFE_LAYER');
    expect(error.message).toContain('..');
    expect((await rejects([{ name: 'a/../../outside/pwned', data: 'x' }])).code).toBe('RUNTIME_UNSAFE_LAYER');
  });

  it('rejects writing through an absolute symlink', async () => {
    const error = await rejects([
      { name: 'escape', type: 'symlink', linkname: '/' },
      { name: 'escape/tmp/pwned', data: 'x' },
    ]);
    expect(error.code).toBe('RUNTIME_UNSAFE_LAYER');
    expect(error.message).toContain('/escape is a symlink');
  });

  it('rejects writing through a relative symlink that climbs out', async () => {
    const error = await rejects(
      [
        { name: 'up', type: 'symlink', linkname: '../outside' },
        { name: 'up/pwned', data: 'x' },
      ],
      'overlay',
    );
    expect(error.code).toBe('RUNTIME_UNSAFE_LAYER');
  });

  it('rejects whiteouts and opaque markers below a symlink', async () => {
    const link = { name: 'up', type: 'symlink' as const, linkname: '../outside' };
    expect((await rejects([link, { name: 'up/.wh.x' }])).code).toBe('RUNTIME_UNSAFE_LAYER');
    expect((await rejects([link, { name: 'up/.wh..wh..opq' }])).code).toBe('RUNTIME_UNSAFE_LAYER');
  });

  it('rejects hard links that leave the layer or go through a symlink', async () => {
    expect((await rejects([{ name: 'passwd', type: 'link', linkname: '../../../etc/passwd' }])).code).toBe(
      'RUNTIME_UNSAFE_LAYER',
    );
    const through = await rejects([
      { name: 'up', type: 'symlink', linkname: '/etc' },
      { name: 'passwd', type: 'link', linkname: 'up/passwd' },
    ]);
    expect(through.code).toBe('RUNTIME_UNSAFE_LAYER');
    expect((await rejects([{ name: 'dangling', type: 'link', linkname: 'nothing' }])).code).toBe(
      'RUNTIME_BAD_LAYER',
    );
  });
});

describe('extractLayer: reading the tar', () => {
  function chunked(buf: Buffer, size: number): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0; i < buf.byteLength; i += size) out.push(buf.subarray(i, i + size));
    return out;
  }

  it('writes the same files whatever the chunking, big files (streamed) included', async () => {
    const big = Buffer.alloc(1024 * 1024 + 5, 'big file ');
    const members = [
      { name: 'd/', type: 'directory' as const },
      { name: 'd/small', data: 'small', mode: 0o640, mtime: new Date(1_600_000_000_000) },
      { name: 'd/empty', data: '' },
    ];
    const small = await makeTar(members);
    const withBig = await makeTar([
      ...members,
      { name: 'd/big', data: big.toString(), mode: 0o755, mtime: new Date(1_600_000_000_000) },
    ]);
    const cases: [Buffer, number][] = [
      [small, 1],
      [small, 7],
      [withBig, 511],
      [withBig, 4099],
      [withBig, 1 << 20],
    ];
    for (const [tar, size] of cases) {
      const root = join(scratch(), 'root');
      mkdirSync(root);
      const result = await extractLayer(chunked(tar, size), root, { format: 'overlay' });
      expect(result.entries).toBe(tar === small ? 3 : 4);
      expect(readFileSync(join(root, 'd/small'), 'utf8')).toBe('small');
      expect(readFileSync(join(root, 'd/empty'), 'utf8')).toBe('');
      expect(lstatSync(join(root, 'd/small')).mode & 0o7777).toBe(0o640);
      expect(lstatSync(join(root, 'd/small')).mtimeMs).toBe(1_600_000_000_000);
      if (tar === small) continue;
      expect(readFileSync(join(root, 'd/big')).equals(big)).toBe(true);
      const st = lstatSync(join(root, 'd/big'));
      expect([st.mode & 0o7777, st.mtimeMs]).toEqual([0o755, 1_600_000_000_000]);
    }
  });

  it.skipIf(!isRoot)('takes owners and mtimes from PAX records', async () => {
    const tar = Buffer.concat([
      encodeHeader({
        name: 'f',
        type: 'file',
        mode: 0o644,
        uid: 5_000_000,
        gid: 0,
        size: 1,
        mtime: 0,
        pax: { mtime: '1600000000.5' },
      }),
      Buffer.from('x'),
      Buffer.alloc(511),
      END_OF_ARCHIVE,
    ]);
    const root = join(scratch(), 'root');
    mkdirSync(root);
    await extractLayer([tar], root, { format: 'apply' });
    const st = lstatSync(join(root, 'f'));
    expect(st.uid).toBe(5_000_000);
    expect(st.mtimeMs).toBe(1_600_000_000_500);
  });

  it('replaces what an older layer left, never following a symlink there', async () => {
    const parent = scratch();
    const root = join(parent, 'root');
    mkdirSync(join(parent, 'outside'));
    await extractInto(
      [
        { name: 'd', type: 'symlink', linkname: '../outside' },
        { name: 'f', type: 'symlink', linkname: '../outside/f' },
        { name: 'full/', type: 'directory' },
        { name: 'full/x', data: 'x' },
      ],
      'apply',
      root,
    );
    await extractInto(
      [
        { name: 'd/', type: 'directory' },
        { name: 'd/inside', data: 'in' },
        { name: 'f', data: 'a file now' },
        { name: 'full', type: 'symlink', linkname: 'd' },
      ],
      'apply',
      root,
    );
    expect(readdirSync(join(parent, 'outside'))).toEqual([]);
    expect(lstatSync(join(root, 'd')).isDirectory()).toBe(true);
    expect(readFileSync(join(root, 'f'), 'utf8')).toBe('a file now');
    expect(readlinkSync(join(root, 'full'))).toBe('d');
  });

  it('a corrupt or compressed tar is RUNTIME_BAD_LAYER, naming the layer', async () => {
    const tar = await makeTar([{ name: 'a', data: 'a' }]);
    tar[0] = 0x62; // the name changes, the checksum does not
    const root = join(scratch(), 'root');
    mkdirSync(root);
    await expect(
      extractLayer([tar], root, { format: 'apply', label: 'layer sha256:abc' }),
    ).rejects.toMatchObject({
      code: 'RUNTIME_BAD_LAYER',
      message: expect.stringMatching(/^layer sha256:abc: Invalid tar header at byte 0/),
    });
    const cut = (await makeTar([{ name: 'a', data: 'abc' }])).subarray(0, 514);
    await expect(extractLayer([cut], root, { format: 'apply' })).rejects.toMatchObject({
      code: 'RUNTIME_BAD_LAYER',
      message: expect.stringContaining('Unexpected end of data'),
    });
  });
});
