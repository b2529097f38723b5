// indexTar on hostile archives (issue 13 item 5): each ends at once with ARCHIVE_NOT_TAR naming the
// member and the field. Before, a negative size looped forever, a PAX size of 4e9 aborted Node and an
// 8 GiB claim gave an internal error.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BLOCK, END_OF_ARCHIVE, encodeHeader, paddingFor } from '../tar/header.js';
import { indexTar, openEntry } from './tar-index.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-tar-index-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file member: header, content, padding. */
const file = (name: string, data: string, pax?: Record<string, string>): Buffer[] => [
  encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: data.length, pax }),
  Buffer.from(data),
  Buffer.alloc(paddingFor(data.length)),
];

/**
 * A small archive (`manifest.json`, then `victim` with 600 bytes) whose victim header `edit` may change
 * in place (its checksum is recomputed), or with extra PAX records.
 */
function archive(edit?: (header: Buffer) => void, pax?: Record<string, string>): Buffer {
  const victim = file('victim', 'x'.repeat(600), pax);
  const header = victim[0] as Buffer;
  if (edit) {
    edit(header.subarray(header.byteLength - BLOCK));
    const block = header.subarray(header.byteLength - BLOCK);
    block.fill(0x20, 148, 156);
    const sum = block.reduce((total, byte) => total + byte, 0);
    block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  }
  return Buffer.concat([...file('manifest.json', '[]'), ...victim, END_OF_ARCHIVE]);
}
const sizeField = (write: (field: Buffer) => void) => (header: Buffer) => {
  header.fill(0, 124, 136);
  write(header.subarray(124, 136));
};

const cases: [string, Buffer, RegExp][] = [
  [
    'a negative size field',
    archive(sizeField((f) => f.write('-0001000', 'latin1'))),
    /member "victim" has a size field "-0001000", which is not a number/,
  ],
  ['a negative PAX size', archive(undefined, { size: '-1536' }), /PAX record size="-1536"/],
  [
    'a PAX size of 4e9',
    archive(undefined, { size: '4000000000' }),
    /end of data .* in the content of "victim" \(4000000000 bytes claimed\)/,
  ],
  [
    'an 8 GiB base-256 size',
    archive(
      sizeField((f) => {
        f[0] = 0x80;
        f[7] = 2; // 2 × 256^4 = 8 GiB
      }),
    ),
    /in the content of "victim" \(8589934592 bytes claimed\)/,
  ],
  ['a truncated member', archive().subarray(0, 3 * BLOCK + 100), /Unexpected end of data/],
];

describe('indexTar on hostile archives', () => {
  it.each(cases)('rejects %s at once, naming the member', async (_, body, message) => {
    const file = join(dir, 'hostile.tar');
    writeFileSync(file, body);
    const started = Date.now();
    const error = await indexTar(file).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ARCHIVE_NOT_TAR' });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(file);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('records offsets without reading the content it skips', async () => {
    const big = 'b'.repeat(3_000_000);
    const path = join(dir, 'ok.tar');
    writeFileSync(
      path,
      Buffer.concat([
        ...file('manifest.json', '[]'),
        ...file('./big', big),
        ...file('after', 'a'),
        END_OF_ARCHIVE,
      ]),
    );
    const entries = await indexTar(path);
    expect([...entries.keys()]).toEqual(['manifest.json', 'big', 'after']);
    const chunks: Buffer[] = [];
    for await (const chunk of openEntry(path, entries.get('after') as never)) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('a');
    expect(entries.get('big')).toMatchObject({ size: 3_000_000, offset: 2 * BLOCK + BLOCK });
  });
});
