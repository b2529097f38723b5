import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { Layer } from '../image/types.js';
import { sha256Digest } from '../oci/index.js';
import { openStore } from '../store/store.js';
import { fileLayer, tarOf } from '../testing/random.js';
import { keepTar } from './kept-tar.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-kept-tar-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function bytes(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const files = { 'etc/passwd': 'root:x:0:0::/root:/bin/sh\n', 'usr/bin/tool': 'x'.repeat(300_000) };

// Each test commits blobs to a store (hash check, fsync, rename): on a busy disk an fsync alone can take
// seconds, so these get more than vitest's default 5 s.
describe('keepTar', { timeout: 30_000 }, () => {
  it('keeps the tar of a gzip layer after the first full read, then reads that blob', async () => {
    const store = await openStore({ root: join(dir, 'a') });
    const layer = await fileLayer(files, { store });
    const tar = await tarOf(files);
    const diffId = await layer.diffId();
    const kept = keepTar(store, layer);
    expect(await store.has(diffId)).toBe(false);
    expect(await bytes(await kept.uncompressed())).toEqual(tar);
    await vi.waitFor(async () => expect(await store.has(diffId)).toBe(true));
    expect(await kept.uncompressedSize?.()).toBe(tar.byteLength);
    // the second read is the stored blob, not a gunzip of the compressed one
    const noGunzip: Layer = { ...kept, compressed: () => Promise.reject(new Error('gunzipped')) };
    expect(await bytes(await keepTar(store, { ...layer, ...noGunzip }).uncompressed())).toEqual(tar);
    expect([await kept.digest(), await kept.size()]).toEqual([await layer.digest(), await layer.size()]);
  });

  it('a read right after the first waits for its commit instead of gunzipping again', async () => {
    const store = await openStore({ root: join(dir, 'd') });
    const layer = await fileLayer(files, { store });
    const tar = await tarOf(files);
    expect(await bytes(await keepTar(store, layer).uncompressed())).toEqual(tar);
    // no waiting here: the commit (hash check, fsync, rename) may still be running
    const noGunzip: Layer = {
      digest: () => layer.digest(),
      diffId: () => layer.diffId(),
      size: () => layer.size(),
      mediaType: () => layer.mediaType(),
      compressed: () => Promise.reject(new Error('gunzipped')),
      uncompressed: () => Promise.reject(new Error('gunzipped')),
    };
    expect(await bytes(await keepTar(store, noGunzip).uncompressed())).toEqual(tar);
  });

  it('keeps nothing when the read stops early', async () => {
    const store = await openStore({ root: join(dir, 'b') });
    // bigger than the stream buffers, so stopping after one chunk really leaves most of it unread
    const kept = keepTar(store, await fileLayer({ big: 'y'.repeat(16 * 1024 * 1024) }, { store }));
    const stream = await kept.uncompressed();
    for await (const _chunk of stream) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await store.has(await kept.diffId())).toBe(false);
    expect(await store.list()).toHaveLength(1); // the gzip blob only
  });

  it('keeps nothing when the tar is not the diffID (the read itself still gets the bytes)', async () => {
    const store = await openStore({ root: join(dir, 'c') });
    const layer = await fileLayer(files, { store });
    const lying: Layer = Object.assign(Object.create(null), {
      ...Object.fromEntries(
        (['digest', 'size', 'mediaType', 'compressed', 'uncompressed'] as const).map((k) => [
          k,
          () => layer[k](),
        ]),
      ),
      diffId: async () => sha256Digest('something else'),
    });
    expect(await bytes(await keepTar(store, lying).uncompressed())).toEqual(await tarOf(files));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await store.list()).toHaveLength(1);
  });
});
