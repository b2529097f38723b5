import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import {
  appendLayers,
  emptyImage,
  type Image,
  indexFromManifest,
  layerFromOpener,
  withConfig,
} from '../image/index.js';
import { parseDigest, parsePlatform, sha256Digest } from '../oci/index.js';
import { fileLayer, randomImage, randomLayer, validateImage, validateIndex } from '../testing/index.js';
import { openLayout, readLayout } from './read.js';
import { appendImage, writeLayout } from './write.js';

const scratch = mkdtempSync(join(tmpdir(), 'wharf-layout-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(scratch, `case-${n++}`, 'layout');

/** A layer that yields `good` bytes and then fails. */
function brokenLayer(): ReturnType<typeof layerFromOpener> {
  return layerFromOpener(
    async () =>
      new Readable({
        read() {
          this.push(Buffer.alloc(64 * 1024, 1));
          this.destroy(new Error('disk on fire'));
        },
      }),
    {
      digest: parseDigest(`sha256:${'a'.repeat(64)}`),
      diffId: parseDigest(`sha256:${'b'.repeat(64)}`),
      size: 1024 * 1024,
    },
  );
}

describe('writeLayout → openLayout/readLayout', () => {
  it('round-trips: same digests, valid image, valid documents', async () => {
    const img = await randomImage(3, { files: 2, bytes: 5000 });
    const dir = fresh();
    const { index } = await writeLayout(dir, { image: img, names: ['hello'] });
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]?.annotations).toEqual({
      'io.containerd.image.name': 'docker.io/library/hello:latest',
      'org.opencontainers.image.ref.name': 'latest',
    });
    expect(index.manifests[0]?.platform).toEqual({
      architecture: (await img.config()).architecture,
      os: 'linux',
    });
    const back = await readLayout(dir, { ref: 'latest' });
    expect(await back.digest()).toBe(await img.digest());
    expect(Buffer.from(await back.rawConfig())).toEqual(Buffer.from(await img.rawConfig()));
    await validateImage(back);
    expect(await (await readLayout(dir, { ref: 'hello' })).digest()).toBe(await img.digest());
    expect(await (await readLayout(dir, { digest: await img.digest() })).digest()).toBe(await img.digest());
    expect(await (await readLayout(dir)).digest()).toBe(await img.digest());
    await validateIndex(await openLayout(dir));
    // The OCI schemas check these documents in test/conformance/oci-written-documents.test.ts.
    expect(readFileSync(join(dir, 'oci-layout'), 'utf8')).toBe('{"imageLayoutVersion":"1.0.0"}');
    expect(readdirSync(join(dir, 'blobs', 'sha256')).sort()).toHaveLength(5);
    expect(readdirSync(join(dir, '..'))).toEqual(['layout']);
  });

  it('is reproducible: the same image twice gives identical files', async () => {
    const img = await randomImage(2);
    const a = fresh();
    const b = fresh();
    await writeLayout(a, { image: img, names: ['x:1'] });
    await writeLayout(b, { image: img, names: ['x:1'] });
    expect(readFileSync(join(a, 'index.json'))).toEqual(readFileSync(join(b, 'index.json')));
    expect(readdirSync(join(a, 'blobs', 'sha256'))).toEqual(readdirSync(join(b, 'blobs', 'sha256')));
  });

  it('leaves a layout that already holds the image as it is; anything different is rewritten', async () => {
    const img = await randomImage(2, { files: 2, bytes: 3000 });
    const dir = fresh();
    await writeLayout(dir, { image: img, names: ['x:1'] });
    const inode = (name: string) => statSync(join(dir, name)).ino;
    const before = { index: inode('index.json'), dir: inode('.') };
    await writeLayout(dir, { image: img, names: ['x:1'] });
    expect({ index: inode('index.json'), dir: inode('.') }).toEqual(before); // not renamed over
    // Another name: another index.json, so the layout is written again.
    await writeLayout(dir, { image: img, names: ['x:2'] });
    expect(inode('index.json')).not.toBe(before.index);
    // A blob altered in place (same size) is noticed and the layout rewritten whole.
    const config = (await img.manifest()).config.digest.slice('sha256:'.length);
    const path = join(dir, 'blobs', 'sha256', config);
    chmodSync(path, 0o644);
    writeFileSync(path, Buffer.alloc(statSync(path).size, 32));
    await writeLayout(dir, { image: img, names: ['x:2'] });
    expect(await (await readLayout(dir)).digest()).toBe(await img.digest());
    await validateImage(await readLayout(dir));
  });

  it('holds several named images; names that are not there are reported', async () => {
    const one = await randomImage(1);
    const two = await randomImage(1);
    const dir = fresh();
    await writeLayout(dir, [
      { image: one, names: ['app:1', 'app:latest'] },
      { image: two, names: ['ghcr.io/o/other:2'] },
    ]);
    expect(await (await readLayout(dir, { ref: '1' })).digest()).toBe(await one.digest());
    expect(await (await readLayout(dir, { ref: 'ghcr.io/o/other:2' })).digest()).toBe(await two.digest());
    await expect(readLayout(dir, { ref: 'nope' })).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
    await expect(readLayout(dir)).rejects.toMatchObject({ code: 'IMAGE_AMBIGUOUS' });
  });

  it('reads a nested multi-platform index by platform', async () => {
    const amd = await randomImage(1, { platform: parsePlatform('linux/amd64') });
    const arm = await randomImage(1, { platform: parsePlatform('linux/arm64') });
    const dir = fresh();
    await writeLayout(dir, [{ image: amd }, { image: arm }]);
    // Rewrite index.json as index → nested index (what BuildKit writes for multi-platform builds).
    const top = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    const nested = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: top.mediaType, manifests: top.manifests }),
    );
    const digest = sha256Digest(nested);
    writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), nested);
    const nestedDescriptor = {
      mediaType: top.mediaType,
      digest,
      size: nested.length,
      annotations: { 'org.opencontainers.image.ref.name': 'multi' },
    };
    writeFileSync(join(dir, 'index.json'), JSON.stringify({ ...top, manifests: [nestedDescriptor] }));
    const picked = await readLayout(dir, { ref: 'multi', platform: parsePlatform('linux/arm64') });
    expect(await picked.digest()).toBe(await arm.digest());
    expect(await (await readLayout(dir, { platform: parsePlatform('linux/amd64') })).digest()).toBe(
      await amd.digest(),
    );
    await expect(readLayout(dir, { platform: parsePlatform('linux/s390x') })).rejects.toMatchObject({
      code: 'IMAGE_NOT_FOUND',
    });
    await validateIndex(await openLayout(dir));
    // Without a platform, an index of platform-tagged images resolves to the host's.
    const flat = indexFromManifest({
      rawManifest: Buffer.from(JSON.stringify(top)),
      blob: async (d) => Readable.from([readFileSync(join(dir, 'blobs', 'sha256', d.digest.slice(7)))]),
    });
    expect((await flat.images()).map((e) => e.platform?.architecture)).toEqual(['amd64', 'arm64']);
  });

  it('leaves nothing behind when a layer fails midway, and keeps the old layout', async () => {
    const dir = fresh();
    const good = await randomImage(1);
    await writeLayout(dir, good);
    const before = readFileSync(join(dir, 'index.json'));
    const bad: Image = appendLayers(emptyImage(), await randomLayer(), brokenLayer());
    await expect(writeLayout(dir, bad)).rejects.toMatchObject({ code: 'LAYOUT_WRITE_FAILED' });
    expect(readFileSync(join(dir, 'index.json'))).toEqual(before);
    expect(readdirSync(join(dir, '..'))).toEqual(['layout']);
    const fresh2 = fresh();
    await expect(writeLayout(fresh2, bad)).rejects.toThrow(/disk on fire/);
    expect(readdirSync(join(fresh2, '..'))).toEqual([]);
  });

  it('refuses to replace a directory that is not a layout', async () => {
    const dir = fresh();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'precious.txt'), 'keep me');
    await expect(writeLayout(dir, await randomImage(1))).rejects.toMatchObject({
      code: 'LAYOUT_DEST_IN_USE',
    });
    expect(readFileSync(join(dir, 'precious.txt'), 'utf8')).toBe('keep me');
  });

  it('fails with a digest mismatch instead of writing a lying blob', async () => {
    const real = await fileLayer({ 'a.txt': 'a' });
    const liar = layerFromOpener(() => real.compressed(), {
      digest: parseDigest(`sha256:${'c'.repeat(64)}`),
      size: await real.size(),
      diffId: await real.diffId(),
    });
    const dir = fresh();
    await expect(writeLayout(dir, appendLayers(emptyImage(), liar))).rejects.toMatchObject({
      code: 'IMAGE_DIGEST_MISMATCH',
    });
    expect(readdirSync(join(dir, '..'))).toEqual([]);
  });
});

describe('appendImage', () => {
  it('adds images to a layout, moves a tag, keeps shared blobs once', async () => {
    const dir = fresh();
    const base = await randomImage(1);
    const v1 = withConfig(base, (c) => ({ ...c, Cmd: ['v1'] }));
    const v2 = withConfig(base, (c) => ({ ...c, Cmd: ['v2'] }));
    await appendImage(dir, { image: v1, names: ['app:1', 'app:latest'] });
    await appendImage(dir, { image: v2, names: ['app:latest'] });
    const index = await (await openLayout(dir)).manifest();
    expect(index.manifests.map((d) => d.annotations?.['org.opencontainers.image.ref.name'])).toEqual([
      '1',
      'latest',
    ]);
    expect(await (await readLayout(dir, { ref: 'latest' })).digest()).toBe(await v2.digest());
    expect(await (await readLayout(dir, { ref: '1' })).digest()).toBe(await v1.digest());
    // 1 layer + 2 configs + 2 manifests
    expect(readdirSync(join(dir, 'blobs', 'sha256'))).toHaveLength(5);
    await validateIndex(await openLayout(dir));
  });

  it('leaves the index unchanged when a layer fails', async () => {
    const dir = fresh();
    await appendImage(dir, await randomImage(1));
    const before = readFileSync(join(dir, 'index.json'));
    await expect(appendImage(dir, appendLayers(emptyImage(), brokenLayer()))).rejects.toThrow(/disk on fire/);
    expect(readFileSync(join(dir, 'index.json'))).toEqual(before);
    expect(readdirSync(join(dir, 'blobs', 'sha256')).filter((f) => f.startsWith('.'))).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  });
});

describe('openLayout errors', () => {
  it('names what is missing', async () => {
    const dir = fresh();
    mkdirSync(dir, { recursive: true });
    await expect(openLayout(dir)).rejects.toMatchObject({ code: 'LAYOUT_NOT_A_LAYOUT' });
    writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
    await expect(openLayout(dir)).rejects.toMatchObject({ code: 'LAYOUT_UNSUPPORTED_VERSION' });
    const img = await randomImage(1);
    const out = fresh();
    await writeLayout(out, img);
    const layer = (await img.manifest()).layers[0];
    rmSync(join(out, 'blobs', 'sha256', String(layer?.digest).slice(7)));
    const back = await readLayout(out);
    await expect(validateImage(back)).rejects.toMatchObject({ code: 'LAYOUT_BLOB_MISSING' });
  });
});
