// ADD archives are read with the one tar reader: a hostile member ends the read with ADD_ARCHIVE_FAILED
// naming the member (tar-stream looped or aborted on the same headers in the archive index).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer, text } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { findProgram } from '../image/program.js';
import { END_OF_ARCHIVE, encodeHeader, paddingFor } from '../tar/header.js';
import { detectArchive, openDecompressed, readArchive } from './archive.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-add-archive-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function member(name: string, data: string, pax?: Record<string, string>): Buffer {
  return Buffer.concat([
    encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: data.length, pax }),
    Buffer.from(data),
    Buffer.alloc(paddingFor(data.length)),
  ]);
}

/** Every member's name and content, as copy-plan and the layer writer read them. */
async function readAll(file: string): Promise<string[]> {
  const out: string[] = [];
  for await (const m of readArchive(file, 'gzip')) {
    const pieces: Buffer[] = [];
    for await (const piece of m.content) pieces.push(piece);
    out.push(`${m.index}:${m.header.name}=${Buffer.concat(pieces).toString()}`);
  }
  return out;
}

describe('ADD archives', () => {
  it('reads members and their content with the tar reader', async () => {
    const file = join(dir, 'ok.tar.gz');
    writeFileSync(file, gzipSync(Buffer.concat([member('a', 'one'), member('b', 'two'), END_OF_ARCHIVE])));
    expect(await detectArchive(file)).toBe('gzip');
    expect(await readAll(file)).toEqual(['0:a=one', '1:b=two']);
    // skipping content (a member not asked for) works the same
    const names: string[] = [];
    for await (const m of readArchive(file, 'gzip')) names.push(m.header.name);
    expect(names).toEqual(['a', 'b']);
  });

  it('is not an archive when its first header is not a tar header (copied as a file, as Docker does)', async () => {
    const file = join(dir, 'plain.gz');
    writeFileSync(file, gzipSync(Buffer.from('just text, no tar'.repeat(100))));
    expect(await detectArchive(file)).toBeUndefined();
  });

  it.each([
    ['a negative PAX size', { size: '-1536' }, /member "b" has a PAX record size="-1536"/],
    ['a PAX size of 4e9', { size: '4000000000' }, /in the content of "b" \(4000000000 bytes claimed\)/],
    ['a PAX uid that is not a number', { uid: 'root' }, /PAX record uid="root"/],
  ])('fails on %s with ADD_ARCHIVE_FAILED naming the member', async (_, pax, message) => {
    const file = join(dir, 'hostile.tar.gz');
    writeFileSync(
      file,
      gzipSync(Buffer.concat([member('a', 'one'), member('b', 'two', pax), END_OF_ARCHIVE])),
    );
    expect(await detectArchive(file)).toBe('gzip');
    const error = await readAll(file).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ADD_ARCHIVE_FAILED' });
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toMatch(message);
  });
});

// bzip2, xz and zstd run through image/program.ts, the one spawn-a-decompressor helper.
describe('ADD archives through the system decompressors', () => {
  const tar = Buffer.concat([member('a', 'one'), END_OF_ARCHIVE]);

  it.each([
    ['xz', ['-c']],
    ['bzip2', ['-c']],
    ['zstd', ['-q', '-c']],
  ] as const)('reads a %s archive', async (name, args) => {
    const program = findProgram(name);
    expect(program, `${name} is installed here`).toBeDefined();
    const file = join(dir, `a.tar.${name}`);
    writeFileSync(file, execFileSync(program as string, [...args], { input: tar }));
    expect(await detectArchive(file)).toBe(name);
    expect((await buffer(openDecompressed(file, name))).equals(tar)).toBe(true);
  });

  it('fails with ADD_ARCHIVE_FAILED and the program’s message on a corrupt archive', async () => {
    const file = join(dir, 'corrupt.tar.xz');
    writeFileSync(
      file,
      Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.alloc(64, 7)]),
    );
    const error = await text(openDecompressed(file, 'xz')).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ADD_ARCHIVE_FAILED' });
    expect((error as Error).message).toMatch(/cannot unpack .*corrupt\.tar\.xz: \/.*xz exited 1: /);
  });

  it('fails with ADD_DECOMPRESSOR_MISSING naming the package when the program is not on PATH', async () => {
    vi.stubEnv('PATH', dir);
    try {
      const error = await text(openDecompressed(join(dir, 'corrupt.tar.xz'), 'xz')).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ADD_DECOMPRESSOR_MISSING' });
      expect((error as Error & { hint: string }).hint).toContain('apt-get install xz-utils');
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
