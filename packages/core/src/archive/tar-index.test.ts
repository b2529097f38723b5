// indexTar on hostile archives (issue 13 item 5): each ends at once with ARCHIVE_NOT_TAR naming the
// member and the field. Before, a negative size looped forever, a PAX size of 4e9 aborted Node and an
// 8 GiB claim gave an internal error.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BLOCK, END_OF_ARCHIVE, encodeHeader, paddingFor, type TarHeader } from '../tar/header.js';
import { indexTar, openEntry } from './tar-index.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-tar-index-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function member(header: Partial<TarHeader> & { name: string }, data = 'x'.repeat(600)): Buffer {
  const content = Buffer.from(data);
  return Buffer.concat([
    encodeHeader({
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: 0,
      size: content.byteLength,
      ...header,
    }),
    content,
    Buffer.alloc(paddingFor(content.byteLength)),
  ]);
}

/** `member` with its header block's size field replaced (the checksum fixed after). */
function withSizeField(write: (field: Buffer) => void): Buffer {
  const tar = member({ name: 'victim' });
  const field = tar.subarray(124, 136);
  field.fill(0);
  write(field);
  tar.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += tar[i] as number;
  tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return tar;
}

const first = member({ name: 'manifest.json' }, '[]');
const cases: [string, Buffer, RegExp][] = [
  [
    'a negative size field',
    withSizeField((f) => f.write('-0001000', 'latin1')),
    /member "victim" has a size field "-0001000", which is not a number/,
  ],
  ['a negative PAX size', member({ name: 'victim', pax: { size: '-1536' } }), /PAX record size="-1536"/],
  [
    'a PAX size of 4e9',
    member({ name: 'victim', pax: { size: '4000000000' } }),
    /end of data .* in the content of "victim" \(4000000000 bytes claimed\)/,
  ],
  [
    'an 8 GiB base-256 size',
    withSizeField((f) => {
      f[0] = 0x80;
      f[7] = 2; // 2 × 256^4 = 8 GiB
    }),
    /in the content of "victim" \(8589934592 bytes claimed\)/,
  ],
  ['a truncated member', member({ name: 'victim' }).subarray(0, BLOCK + 100), /Unexpected end of data/],
];

describe('indexTar on hostile archives', () => {
  it.each(cases)('rejects %s at once, naming the member', async (_, body, message) => {
    const file = join(dir, 'hostile.tar');
    writeFileSync(file, Buffer.concat([first, body, END_OF_ARCHIVE]));
    const started = Date.now();
    const error = await indexTar(file).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ARCHIVE_NOT_TAR' });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(file);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('records offsets without reading the content it skips', async () => {
    const big = 'b'.repeat(3_000_000);
    const file = join(dir, 'ok.tar');
    writeFileSync(
      file,
      Buffer.concat([first, member({ name: './big' }, big), member({ name: 'after' }, 'a'), END_OF_ARCHIVE]),
    );
    const entries = await indexTar(file);
    expect([...entries.keys()]).toEqual(['manifest.json', 'big', 'after']);
    const chunks: Buffer[] = [];
    for await (const chunk of openEntry(file, entries.get('after') as never)) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('a');
    expect(entries.get('big')).toMatchObject({ size: 3_000_000, offset: 2 * BLOCK + BLOCK });
  });
});
