// Blobs the store holds reach a layout by link (same filesystem), by reflink or copy (another one), and
// by the verified stream whenever the store's file is not what the descriptor says.
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { appendLayers, emptyImage, type Image } from '../image/index.js';
import { digestHex, parseDigest } from '../oci/index.js';
import { type BlobStore, openStore } from '../store/index.js';
import { fileLayer } from '../testing/index.js';
import { placeFile } from './place.js';
import { readLayout } from './read.js';
import { appendImage, writeLayout } from './write.js';

const scratch = mkdtempSync(join(tmpdir(), 'wharf-place-test-'));
// /dev/shm is a tmpfs: another filesystem than the temp dir, so link() fails with EXDEV there.
const otherFs = mkdtempSync('/dev/shm/wharf-place-test-');
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  rmSync(otherFs, { recursive: true, force: true });
});
afterEach(() => {
  delete process.env.WHARF_LAYOUT_COPY;
});
let n = 0;
const fresh = (root = scratch) => join(root, `case-${n++}`, 'layout');

async function storedImage(): Promise<{ store: BlobStore; image: Image; layerHex: string[] }> {
  const store = await openStore({ root: join(scratch, `store-${n++}`) });
  const layers = [
    await fileLayer({ 'a.txt': 'a'.repeat(5000) }, { store }),
    await fileLayer({ 'b.bin': new Uint8Array(70_000).fill(7) }, { store }),
  ];
  const image = appendLayers(emptyImage(), ...layers);
  return { store, image, layerHex: await Promise.all(layers.map(async (l) => digestHex(await l.digest()))) };
}

const inode = (path: string) => statSync(path).ino;
const storePath = (store: BlobStore, digest: string) => store.path(parseDigest(digest));

describe('writeLayout places store blobs', () => {
  it('hardlinks them on the same filesystem (same inode), read-only, and the layout reads back', async () => {
    const { store, image, layerHex } = await storedImage();
    const dir = fresh();
    await writeLayout(dir, { image, names: ['linked'] });
    for (const hex of layerHex) {
      const blob = join(dir, 'blobs/sha256', hex);
      expect(inode(blob)).toBe(inode(storePath(store, `sha256:${hex}`)));
      expect(statSync(blob).mode & 0o777).toBe(0o444);
    }
    const back = await readLayout(dir, { ref: 'linked' });
    expect(await back.digest()).toBe(await image.digest());
    expect(readdirSync(join(dir, '..'))).toEqual(['layout']); // no temp directory left
  });

  it('copies them to another filesystem (new inodes, same bytes and digests)', async () => {
    const { store, image, layerHex } = await storedImage();
    const dir = fresh(otherFs);
    expect(statSync(otherFs).dev).not.toBe(statSync(storePath(store, `sha256:${layerHex[0]}`)).dev);
    await writeLayout(dir, image);
    for (const hex of layerHex) {
      const blob = join(dir, 'blobs/sha256', hex);
      expect(inode(blob)).not.toBe(inode(storePath(store, `sha256:${hex}`)));
      expect(readFileSync(blob).equals(readFileSync(storePath(store, `sha256:${hex}`)))).toBe(true);
    }
    expect(await (await readLayout(dir)).digest()).toBe(await image.digest());
  });

  it('streams independent copies with WHARF_LAYOUT_COPY=1', async () => {
    const { store, image, layerHex } = await storedImage();
    process.env.WHARF_LAYOUT_COPY = '1';
    const dir = fresh();
    await writeLayout(dir, image);
    const hex = layerHex[0] as string;
    expect(inode(join(dir, 'blobs/sha256', hex))).not.toBe(inode(storePath(store, `sha256:${hex}`)));
  });

  it('does not link a store file of the wrong size: the verified stream refuses it, nothing is left', async () => {
    const { store, image, layerHex } = await storedImage();
    truncateSync(storePath(store, `sha256:${layerHex[1]}`), 100);
    const dir = fresh();
    await expect(writeLayout(dir, image)).rejects.toThrow(/corrupt/);
    expect(readdirSync(join(dir, '..'))).toEqual([]);
  });
});

describe('placeFile', () => {
  it('says how: link on the same filesystem, copy across (fsynced), never over an existing file', async () => {
    const source = join(scratch, `src-${n++}`);
    writeFileSync(source, 'x'.repeat(1000));
    expect(await placeFile(source, join(scratch, `dst-${n++}`), 1000)).toBe('link');
    expect(await placeFile(source, join(otherFs, `dst-${n++}`), 1000)).toBe('copy');
    const taken = join(otherFs, `dst-${n++}`);
    writeFileSync(taken, 'other');
    await expect(placeFile(source, taken, 1000)).rejects.toThrow(/EEXIST/);
    expect(readFileSync(taken, 'utf8')).toBe('other');
  });
});

describe('appendImage keeps only blobs that are really there', () => {
  it('keeps a linked blob (same inode) and rewrites a same-size blob with other bytes', async () => {
    const { store, image, layerHex } = await storedImage();
    const dir = fresh();
    await writeLayout(dir, image);
    const [linkedHex, spoiledHex] = layerHex as [string, string];
    const spoiled = join(dir, 'blobs/sha256', spoiledHex);
    const size = statSync(spoiled).size;
    rmSync(spoiled);
    writeFileSync(spoiled, Buffer.alloc(size, 1)); // right size, wrong content
    await appendImage(dir, { image, names: ['again'] });
    expect(inode(join(dir, 'blobs/sha256', linkedHex))).toBe(inode(storePath(store, `sha256:${linkedHex}`)));
    expect(readFileSync(spoiled).equals(readFileSync(storePath(store, `sha256:${spoiledHex}`)))).toBe(true);
    expect(await (await readLayout(dir, { ref: 'again' })).digest()).toBe(await image.digest());
  });
});
