import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeJson, MediaType, parseDigest, sha256Digest } from '../oci/index.js';
import { imageProblems, randomImage, tarOf, validateImage } from '../testing/index.js';
import { emptyImage } from './empty.js';
import { appendLayers } from './mutate.js';
import {
  imageFromConfig,
  imageFromManifest,
  layerFromBytes,
  layerFromOpener,
  uncompressedSize,
} from './partial.js';
import { hashStream } from './stream.js';

async function gzLayer() {
  const tar = await tarOf({ 'etc/hello.txt': 'hello\n', 'bin/x': 'x'.repeat(5000) });
  const gz = gzipSync(tar);
  return { tar, gz };
}

describe('layerFromOpener', () => {
  it('learns digest, size, diffID and tar length in one pass, once', async () => {
    const { tar, gz } = await gzLayer();
    let opens = 0;
    const layer = layerFromOpener(async () => {
      opens++;
      return Readable.from([gz.subarray(0, 100), gz.subarray(100)]);
    });
    const [digest, diffId, size, length] = await Promise.all([
      layer.digest(),
      layer.diffId(),
      layer.size(),
      uncompressedSize(layer),
    ]);
    expect({ digest, diffId, size, length }).toEqual({
      digest: sha256Digest(gz),
      diffId: sha256Digest(tar),
      size: gz.length,
      length: tar.length,
    });
    expect(opens).toBe(1);
    expect(await layer.diffId()).toBe(diffId);
    expect(opens).toBe(1);
    expect((await hashStream(await layer.uncompressed())).digest).toBe(diffId);
    expect(await layer.mediaType()).toBe(MediaType.ociLayerGzip);
  });

  it('trusts given facts without reading, and fails when a pass contradicts them', async () => {
    const { gz } = await gzLayer();
    let opens = 0;
    const wrong = parseDigest(`sha256:${'0'.repeat(64)}`);
    const layer = layerFromOpener(
      async () => {
        opens++;
        return Readable.from([gz]);
      },
      { digest: wrong, size: gz.length },
    );
    expect(await layer.digest()).toBe(wrong);
    expect(opens).toBe(0);
    await expect(layer.diffId()).rejects.toMatchObject({ code: 'IMAGE_DIGEST_MISMATCH' });
  });

  it('treats an uncompressed media type as digest = diffID', async () => {
    const { tar } = await gzLayer();
    const layer = layerFromBytes(tar, { mediaType: MediaType.ociLayer });
    expect(await layer.diffId()).toBe(sha256Digest(tar));
    expect(await layer.digest()).toBe(sha256Digest(tar));
    expect(await uncompressedSize(layer)).toBe(tar.length);
  });

  it('reads a zstd layer on any Node (the zstd program stands in for Node < 22.15)', async () => {
    const { tar } = await gzLayer();
    const zst = execFileSync('zstd', ['-q', '-c', '-3'], { input: tar });
    const layer = layerFromBytes(zst, { mediaType: MediaType.ociLayerZstd });
    expect(await layer.diffId()).toBe(sha256Digest(tar));
    expect(await uncompressedSize(layer)).toBe(tar.length);
  });

  it('says when zstd cannot be decompressed here (no zstd program, no Node zstd)', () => {
    const make = () => layerFromBytes(Buffer.from('x'), { mediaType: MediaType.ociLayerZstd });
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      if ('createZstdDecompress' in zlib) expect(make).not.toThrow();
      else expect(make).toThrow(expect.objectContaining({ code: 'IMAGE_UNSUPPORTED_COMPRESSION' }));
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('imageFromManifest / imageFromConfig', () => {
  it('keeps raw bytes and reads blobs lazily', async () => {
    const src = await randomImage(2);
    const blobs = new Map<string, Uint8Array>();
    blobs.set((await src.configDescriptor()).digest, await src.rawConfig());
    for (const layer of await src.layers()) {
      const chunks: Buffer[] = [];
      for await (const c of await layer.compressed()) chunks.push(c as Buffer);
      blobs.set(await layer.digest(), Buffer.concat(chunks));
    }
    const read: string[] = [];
    const img = imageFromManifest({
      rawManifest: await src.rawManifest(),
      blob: async (d) => {
        read.push(d.digest);
        return Readable.from([Buffer.from(blobs.get(d.digest) as Uint8Array)]);
      },
    });
    expect(await img.digest()).toBe(await src.digest());
    expect(read).toEqual([]);
    await validateImage(img);
    expect(read[0]).toBe((await src.configDescriptor()).digest);
  });

  it('rejects an index where a manifest is expected, and a config that disagrees with the layers', async () => {
    expect(() =>
      imageFromManifest({
        rawManifest: encodeJson({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] }),
        blob: async () => Readable.from([]),
      }),
    ).toThrow(/found an index/);
    const base = await randomImage(1);
    const img = imageFromManifest({
      rawManifest: encodeJson({ ...(await base.manifest()), layers: [] }),
      blob: async () => Readable.from([Buffer.from(await base.rawConfig())]),
    });
    await expect(img.layers()).rejects.toMatchObject({ code: 'IMAGE_INVALID_CONFIG' });
  });

  it('validateImage finds a config whose diffIDs do not match the layers', async () => {
    const good = await randomImage(1);
    const config = JSON.parse(Buffer.from(await good.rawConfig()).toString());
    config.rootfs.diff_ids = [sha256Digest('nope')];
    const bad = imageFromConfig({ rawConfig: encodeJson(config), layers: await good.layers() });
    const problems = await imageProblems(bad);
    expect(problems.join('\n')).toMatch(/diffId\(\) .* differs from rootfs.diff_ids\[0\]/);
    await expect(validateImage(bad)).rejects.toMatchObject({ code: 'TESTING_INVALID' });
    // A layer that lies about its compressed digest is caught by streaming it.
    const layer = (await good.layers())[0];
    if (!layer) throw new Error('no layer');
    const liar = { ...layer, digest: async () => sha256Digest('lie') };
    for (const k of [
      'diffId',
      'size',
      'mediaType',
      'compressed',
      'uncompressed',
      'uncompressedSize',
    ] as const) {
      (liar as Record<string, unknown>)[k] = (layer[k] as () => unknown).bind(layer);
    }
    expect((await imageProblems(appendLayers(emptyImage(), liar))).join('\n')).toMatch(
      /compressed\(\) hashes to/,
    );
  });
});
