import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toGraph } from '../dsl/graph.js';
import { stage } from '../dsl/stage.js';
import { layerFromStore } from '../image/partial.js';
import { zstdVersion } from '../image/zstd.js';
import type { LayerEntry } from '../layer/entry.js';
import { writeLayer } from '../layer/layer-writer.js';
import { digestHex, MediaType, sha256Digest } from '../oci/index.js';
import { openStore } from '../store/store.js';
import { buildGraph, buildImage } from './build.js';
import { compressedLayer } from './compress.js';

const scratchDir = mkdtempSync(join(tmpdir(), 'wharf-compress-'));
afterAll(() => rmSync(scratchDir, { recursive: true, force: true }));

const entries = (n: number): LayerEntry[] =>
  Array.from({ length: n }, (_, i) => {
    const data = Buffer.from(`file ${i}\n`.repeat(50 + i));
    return {
      type: 'file' as const,
      path: `f${i}.txt`,
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: data.byteLength,
      content: { kind: 'bytes' as const, data },
    };
  });

describe('uncompressed layers, compressed on demand', async () => {
  const store = await openStore({ root: join(scratchDir, 'store') });

  it("writes a tar layer whose digest is its diffID, and gzips it to writeLayer's gzip bytes", async () => {
    const tar = await writeLayer(store, entries(20), { mtime: 0, compression: 'none' });
    expect(tar.mediaType).toBe(MediaType.ociLayer);
    expect(tar.digest).toBe(tar.diffId);
    expect(tar.size).toBe(tar.uncompressedSize);
    const gzip = await writeLayer(store, entries(20), { mtime: 0 });
    expect(gzip.diffId).toBe(tar.diffId);

    const layer = compressedLayer(store, layerFromStore(store, tar));
    expect(await layer.mediaType()).toBe(MediaType.ociLayerGzip);
    expect(await layer.diffId()).toBe(tar.diffId);
    expect(await layer.digest()).toBe(gzip.digest);
    expect(await layer.size()).toBe(gzip.size);
    const record = JSON.parse(
      readFileSync(join(store.root, 'compressed', `${digestHex(tar.diffId)}.json`), 'utf8'),
    );
    expect(record).toEqual({
      digest: gzip.digest,
      size: gzip.size,
      scheme: 'gzip-6-blocks-1048576-stored-entropy-verified',
    });
  });

  it('ignores a record of another gzip scheme (an older wharf): the digest is the one a fresh cache gives', async () => {
    const tar = await writeLayer(store, entries(30), { mtime: 0, compression: 'none' });
    const fresh = await writeLayer(store, entries(30), { mtime: 0 });
    const other = await writeLayer(store, entries(31), { mtime: 0 }); // any blob the store has
    const path = join(store.root, 'compressed', `${digestHex(tar.diffId)}.json`);
    mkdirSync(join(store.root, 'compressed'), { recursive: true });
    writeFileSync(path, JSON.stringify({ digest: other.digest, size: other.size }));
    const layer = compressedLayer(store, layerFromStore(store, tar));
    expect(await layer.digest()).toBe(fresh.digest);
    expect(JSON.parse(readFileSync(path, 'utf8')).digest).toBe(fresh.digest);
  });

  it('passes compressed layers through unchanged', async () => {
    const gzip = await writeLayer(store, entries(3), { mtime: 0 });
    const source = layerFromStore(store, gzip);
    const layer = compressedLayer(store, source);
    expect(await layer.mediaType()).toBe(MediaType.ociLayerGzip);
    expect(await layer.digest()).toBe(gzip.digest);
  });

  it('builds with tar layers, outputs gzip layers with the same diffIDs, and compresses once', async () => {
    const dir = mkdtempSync(join(scratchDir, 'ctx-'));
    writeFileSync(join(dir, 'a.txt'), 'a\n'.repeat(1000));
    writeFileSync(join(dir, 'b.txt'), 'b\n'.repeat(1000));
    const app = stage('app').from('scratch').copy('a.txt', '/a.txt').copy('b.txt', '/b.txt');
    const graph = toGraph(app);
    const root = join(scratchDir, 'build-store');
    const built = await buildImage(graph, { contextDir: dir, cacheDir: root, epoch: 0 });
    const tars = await built.uncompressedImage.manifest();
    expect(tars.layers.map((l) => l.mediaType)).toEqual([MediaType.ociLayer, MediaType.ociLayer]);
    expect(readdirSync(root)).not.toContain('compressed'); // nothing compressed yet

    const manifest = await built.image.manifest();
    expect(manifest.layers.map((l) => l.mediaType)).toEqual([MediaType.ociLayerGzip, MediaType.ociLayerGzip]);
    expect((await built.image.config()).rootfs.diff_ids).toEqual(tars.layers.map((l) => l.digest));
    expect(await built.image.rawConfig()).toEqual(await built.uncompressedImage.rawConfig());
    expect(readdirSync(join(root, 'compressed'))).toHaveLength(2);

    // A second build (another store object on the same root) finds the compressed blobs.
    const again = await buildGraph(graph, { contextDir: dir, cacheDir: root, epoch: 0 });
    expect(again.digest).toBe(await built.image.digest());
  });

  it('compresses with zstd when asked: its own media type, record and digest, the same each time', async () => {
    const tar = await writeLayer(store, entries(40), { mtime: 0, compression: 'none' });
    const zstd = compressedLayer(store, layerFromStore(store, tar), { format: 'zstd' });
    expect(await zstd.mediaType()).toBe(MediaType.ociLayerZstd);
    expect(await zstd.diffId()).toBe(tar.diffId);
    const digest = await zstd.digest();
    const record = JSON.parse(
      readFileSync(join(store.root, 'compressed', `${digestHex(tar.diffId)}.zstd-3.json`), 'utf8'),
    );
    expect(record).toEqual({
      digest,
      size: await zstd.size(),
      scheme: `zstd-3-T0-check-v${await zstdVersion()}-verified`,
    });
    // the blob is the zstd program's output for that tar, and decompresses to it
    const blob = readFileSync(join(store.root, 'blobs/sha256', digestHex(digest)));
    const plain = readFileSync(join(store.root, 'blobs/sha256', digestHex(tar.diffId)));
    expect(sha256Digest(execFileSync('zstd', ['-q', '-c', '-3', '--check'], { input: plain }))).toBe(digest);
    expect(sha256Digest(execFileSync('zstd', ['-q', '-d', '-c'], { input: blob }))).toBe(tar.diffId);
    // a fresh store computes the same digest; another level another one; gzip is untouched
    const other = await openStore({ root: join(scratchDir, 'store-zstd') });
    const copy = await writeLayer(other, entries(40), { mtime: 0, compression: 'none' });
    expect(await compressedLayer(other, layerFromStore(other, copy), { format: 'zstd' }).digest()).toBe(
      digest,
    );
    const level9 = compressedLayer(other, layerFromStore(other, copy), { format: 'zstd', level: 9 });
    expect(await level9.digest()).not.toBe(digest);
    expect(await compressedLayer(store, layerFromStore(store, tar)).mediaType()).toBe(MediaType.ociLayerGzip);
    expect(() => compressedLayer(store, layerFromStore(store, tar), { format: 'zstd', level: 40 })).toThrow(
      expect.objectContaining({ code: 'IMAGE_UNSUPPORTED_COMPRESSION' }),
    );
  });

  it('builds with zstd layers (buildGraph compression option)', async () => {
    const dir = join(scratchDir, 'zstd-context');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'a.txt'), 'a\n'.repeat(1000));
    const graph = toGraph(stage('app').from('scratch').copy('a.txt', '/a.txt'));
    const root = join(scratchDir, 'zstd-build');
    const built = await buildGraph(graph, {
      contextDir: dir,
      cacheDir: root,
      epoch: 0,
      compression: { format: 'zstd' },
    });
    const manifest = await built.image.manifest();
    expect(manifest.layers.map((l) => l.mediaType)).toEqual([MediaType.ociLayerZstd]);
    const gzip = await buildGraph(graph, { contextDir: dir, cacheDir: root, epoch: 0 });
    expect(gzip.digest).not.toBe(built.digest);
    expect((await gzip.image.configDescriptor()).digest).toBe((await built.image.configDescriptor()).digest);
  });
});
