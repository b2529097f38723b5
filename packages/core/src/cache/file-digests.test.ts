import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileDigests } from './file-digests.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-file-digests-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

describe('FileDigests', () => {
  it('hashes a file once while its stat is unchanged, again when it changes, and keeps that on disk', async () => {
    const file = join(dir, 'a.txt');
    const cacheFile = join(dir, 'cache', 'file-digests.json');
    writeFileSync(file, 'one');
    const cache = await FileDigests.open(cacheFile);
    expect(await cache.digest(file)).toBe(sha('one'));
    expect(await cache.digest(file)).toBe(sha('one'));
    expect(cache.stats).toEqual({ hashed: 1, reused: 1 });

    writeFileSync(file, 'two!');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(await cache.digest(file)).toBe(sha('two!'));
    await cache.save();

    const reopened = await FileDigests.open(cacheFile);
    expect(await reopened.digest(file)).toBe(sha('two!'));
    expect(reopened.stats).toEqual({ hashed: 0, reused: 1 });
  });

  it('streams files bigger than a MiB', async () => {
    const file = join(dir, 'big.bin');
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    writeFileSync(file, data);
    const cache = await FileDigests.open(join(dir, 'other.json'));
    expect(await cache.digest(file)).toBe(sha(data));
  });

  it('fails for a missing file', async () => {
    const cache = await FileDigests.open(join(dir, 'third.json'));
    await expect(cache.digest(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
