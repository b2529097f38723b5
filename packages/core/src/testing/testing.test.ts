import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashStream, uncompressedSize } from '../image/index.js';
import { MediaType } from '../oci/index.js';
import { openStore } from '../store/index.js';
import { fileLayer, randomImage, randomLayer, tarOf } from './random.js';
import { validateImage } from './validate.js';

const scratch = mkdtempSync(join(tmpdir(), 'wharf-testing-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('fixtures', () => {
  it('randomLayer: files and bytes as asked, in memory or in a store', async () => {
    const memory = await randomLayer(undefined, { files: 4, bytes: 10_000 });
    const tar = await hashStream(await memory.uncompressed());
    expect(tar.digest).toBe(await memory.diffId());
    expect(tar.size).toBe(await uncompressedSize(memory));
    expect(tar.size).toBeGreaterThan(10_000);
    const store = await openStore({ root: join(scratch, 'store') });
    const stored = await randomLayer(store, { files: 2, bytes: 100 });
    expect(await store.has(await stored.digest())).toBe(true);
    expect((await hashStream(await stored.compressed())).digest).toBe(await stored.digest());
    expect(await randomLayer(undefined, { mediaType: MediaType.ociLayer }).then((l) => l.mediaType())).toBe(
      MediaType.ociLayer,
    );
  });

  it('fileLayer and tarOf are deterministic', async () => {
    const a = await fileLayer({ 'a/b/c.txt': 'c', 'd.txt': 'd' });
    const b = await fileLayer({ 'd.txt': 'd', 'a/b/c.txt': 'c' });
    expect(await a.digest()).toBe(await b.digest());
    expect(Buffer.from(await tarOf({ x: 'y' })).equals(Buffer.from(await tarOf({ x: 'y' })))).toBe(true);
  });

  it('randomImage: n layers, valid, distinct each time', async () => {
    const one = await randomImage(3);
    await validateImage(one);
    expect(await one.layers()).toHaveLength(3);
    expect(await (await randomImage(3)).digest()).not.toBe(await one.digest());
  });
});
