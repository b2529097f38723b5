import { describe, expect, it } from 'vitest';
import { MediaType, parsePlatform } from '../oci/index.js';
import { fileLayer, randomImage, randomLayer, validateImage } from '../testing/index.js';
import { emptyImage } from './empty.js';
import {
  appendLayers,
  mapLayers,
  withConfig,
  withConfigFile,
  withCreated,
  withMediaTypes,
} from './mutate.js';
import { layerFromBytes } from './partial.js';
import { readAll } from './stream.js';
import type { Layer } from './types.js';

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

describe('emptyImage', () => {
  it('is scratch for a platform: OCI types, no layers, empty history, deterministic', async () => {
    const img = emptyImage(parsePlatform('linux/arm/v7'));
    expect(text(await img.rawConfig())).toBe(
      '{"architecture":"arm","os":"linux","variant":"v7","config":{},"rootfs":{"type":"layers","diff_ids":[]},"history":[]}',
    );
    expect(await img.mediaType()).toBe(MediaType.ociManifest);
    expect((await img.manifest()).layers).toEqual([]);
    expect((await img.configDescriptor()).mediaType).toBe(MediaType.ociConfig);
    expect(await img.digest()).toBe(await emptyImage(parsePlatform('linux/arm/v7')).digest());
    await validateImage(img);
  });
});

describe('appendLayers', () => {
  it('grows rootfs, history and the manifest; the base is unchanged', async () => {
    const base = emptyImage(parsePlatform('linux/amd64'));
    const baseDigest = await base.digest();
    const l1 = await randomLayer(undefined, { files: 3, bytes: 3000 });
    const l2 = await randomLayer();
    const one = appendLayers(base, { layer: l1, history: { created_by: 'one' } });
    const two = appendLayers(one, l2);
    await validateImage(one);
    await validateImage(two);
    expect(await base.digest()).toBe(baseDigest);
    const config = await two.config();
    expect(config.rootfs.diff_ids).toEqual([await l1.diffId(), await l2.diffId()]);
    expect(config.history).toEqual([{ created_by: 'one' }, {}]);
    expect((await two.manifest()).layers.map((d) => d.digest)).toEqual([
      await l1.digest(),
      await l2.digest(),
    ]);
    expect(await two.layers()).toEqual([l1, l2]);
    // Branching twice from one base gives independent images.
    const other = appendLayers(one, await randomLayer());
    expect(await other.digest()).not.toBe(await two.digest());
    expect((await one.config()).rootfs.diff_ids).toHaveLength(1);
  });

  it('computes the manifest once and never reads layers twice', async () => {
    let opens = 0;
    const inner = await fileLayer({ 'a.txt': 'a' });
    const counting = {
      ...inner,
      compressed: async () => {
        opens++;
        return inner.compressed();
      },
    };
    for (const k of ['digest', 'diffId', 'size', 'mediaType', 'uncompressed', 'uncompressedSize'] as const) {
      (counting as Record<string, unknown>)[k] = (inner[k] as () => unknown).bind(inner);
    }
    const img = appendLayers(emptyImage(), counting);
    const [a, b] = await Promise.all([img.rawManifest(), img.rawManifest()]);
    expect(a).toBe(b);
    expect(await img.digest()).toBe(await img.digest());
    expect(opens).toBe(0);
  });

  it('gives appended layers the base manifest family (no OCI layer in a Docker schema 2 manifest)', async () => {
    const dockerBase = withMediaTypes(await randomImage(1), 'docker');
    const grown = appendLayers(dockerBase, await fileLayer({ 'x.txt': 'x' }));
    const manifest = await grown.manifest();
    expect(manifest.mediaType).toBe(MediaType.dockerManifest);
    expect(manifest.layers.map((l) => l.mediaType)).toEqual([
      MediaType.dockerLayerGzip,
      MediaType.dockerLayerGzip,
    ]);
    expect(await (await grown.layers())[1]?.mediaType()).toBe(MediaType.dockerLayerGzip);
    await validateImage(grown);
  });

  it('refuses a history entry that claims no layer', async () => {
    const img = appendLayers(emptyImage(), { layer: await randomLayer(), history: { empty_layer: true } });
    await expect(img.manifest()).rejects.toMatchObject({ code: 'IMAGE_INVALID_CONFIG' });
  });
});

describe('withConfig / withConfigFile / withCreated', () => {
  it('edits the container config lazily and re-encodes canonically', async () => {
    const base = await randomImage(2);
    const img = withConfig(base, (c) => ({ ...c, Cmd: ['cat', '/hello.txt'], Env: ['A=1'] }));
    await validateImage(img);
    expect((await img.config()).config).toEqual({ Cmd: ['cat', '/hello.txt'], Env: ['A=1'] });
    expect((await img.manifest()).layers).toEqual((await base.manifest()).layers);
    expect(await img.digest()).not.toBe(await base.digest());
    expect(await withConfig(base, (c) => ({ ...c, Cmd: ['cat', '/hello.txt'], Env: ['A=1'] })).digest()).toBe(
      await img.digest(),
    );
  });

  it('rejects an edit of rootfs', async () => {
    const img = withConfigFile(await randomImage(1), (c) => ({
      ...c,
      rootfs: { type: 'layers', diff_ids: [] },
    }));
    await expect(img.digest()).rejects.toMatchObject({ code: 'IMAGE_ROOTFS_CHANGED' });
  });

  it('withCreated sets config and history times (Go RFC 3339)', async () => {
    const img = withCreated(await randomImage(2), new Date(Date.UTC(2024, 0, 2, 3, 4, 5)));
    const config = await img.config();
    expect(config.created).toBe('2024-01-02T03:04:05Z');
    expect(config.history?.map((h) => h.created)).toEqual(['2024-01-02T03:04:05Z', '2024-01-02T03:04:05Z']);
    expect(text(await img.rawConfig()).startsWith('{"created":"2024-01-02T03:04:05Z","architecture"')).toBe(
      true,
    );
    await validateImage(img);
  });
});

describe('withMediaTypes', () => {
  it('converts manifest, config and layer types; bytes and digests of blobs stay', async () => {
    const base = await randomImage(2);
    const docker = withMediaTypes(base, 'docker');
    await validateImage(docker);
    const m = await docker.manifest();
    expect(m.mediaType).toBe(MediaType.dockerManifest);
    expect(m.config.mediaType).toBe(MediaType.dockerConfig);
    expect(m.config.digest).toBe((await base.manifest()).config.digest);
    expect(m.layers.map((l) => l.mediaType)).toEqual([MediaType.dockerLayerGzip, MediaType.dockerLayerGzip]);
    const back = withMediaTypes(docker, 'oci');
    await validateImage(back);
    expect(await back.digest()).toBe(await base.digest());
  });

  it('is the identity (same raw bytes) when nothing changes', async () => {
    const base = await randomImage(1);
    expect(await withMediaTypes(base, 'oci').rawManifest()).toBe(await base.rawManifest());
  });
});

describe('mapLayers', () => {
  it('swaps how layers are stored: same config, new descriptors; the identity keeps the bytes', async () => {
    const layer = await randomLayer(undefined, { files: 2, bytes: 2000 });
    const tar = layerFromBytes(await readAll(await layer.uncompressed()), { mediaType: MediaType.ociLayer });
    const base = appendLayers(emptyImage(parsePlatform('linux/amd64')), tar);
    const swapped = mapLayers(base, () => layer);
    await validateImage(swapped);
    expect(await swapped.rawConfig()).toEqual(await base.rawConfig());
    expect((await swapped.manifest()).layers).toEqual([
      { mediaType: await layer.mediaType(), digest: await layer.digest(), size: await layer.size() },
    ]);
    expect(await mapLayers(base, (l) => l).rawManifest()).toEqual(await base.rawManifest());
  });

  it('keeps the manifest bytes when a replacement is the same blob read another way', async () => {
    const layer = await randomLayer(undefined, { files: 2, bytes: 2000 });
    const base = appendLayers(emptyImage(parsePlatform('linux/amd64')), layer);
    const wrapper: Layer = {
      digest: () => layer.digest(),
      diffId: () => layer.diffId(),
      size: () => layer.size(),
      mediaType: () => layer.mediaType(),
      compressed: () => layer.compressed(),
      uncompressed: () => layer.uncompressed(),
    };
    const same = mapLayers(base, () => wrapper);
    expect(await same.rawManifest()).toEqual(await base.rawManifest());
    expect(await same.digest()).toBe(await base.digest());
    expect((await same.layers())[0]).toBe(wrapper);
  });

  it('rejects a replacement with another diffID', async () => {
    const base = appendLayers(emptyImage(parsePlatform('linux/amd64')), await randomLayer());
    const other = await randomLayer();
    await expect(mapLayers(base, () => other).manifest()).rejects.toMatchObject({
      code: 'IMAGE_ROOTFS_CHANGED',
    });
  });
});
