import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { layerFromOpener } from '../image/partial.js';
import { MemoryFsView } from '../layer/fs-view.js';
import { MediaType, sha256Digest } from '../oci/index.js';
import { tarOf } from '../testing/random.js';
import { LayerViews } from './layer-views.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-layer-views-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const diffId = sha256Digest(new TextEncoder().encode('a tar that is not here'));
const file = (path: string, extra: Record<string, unknown> = {}) => ({
  op: 'set',
  path,
  type: 'file',
  mode: 0o644,
  uid: 0,
  gid: 0,
  ...extra,
});

describe("LayerViews.adopt (a remote cache's listing of a lazy hit)", () => {
  it('replays a good listing without reading the tar, and does not save it', async () => {
    const views = new LayerViews(join(dir, 'good'));
    expect(
      views.adopt(diffId, [
        { op: 'set', path: 'etc', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
        file('etc/passwd'),
      ]),
    ).toBe(true);
    const layer = layerFromOpener(
      async () => {
        throw new Error('the tar must not be read');
      },
      { mediaType: MediaType.ociLayer, digest: diffId, diffId, size: 1 },
    );
    const view = new MemoryFsView();
    await views.apply(view, layer);
    expect(view.lookup('etc/passwd')?.type).toBe('file');
    expect(await views.known(diffId)).toHaveLength(2);
    expect(readdirSync(dir).includes('good')).toBe(false); // unverified: nothing written
  });

  it("takes a base layer's listing for its blob only: another blob claiming the diffID is read", async () => {
    const views = new LayerViews(join(dir, 'base'));
    const gzip = sha256Digest(new TextEncoder().encode('the base blob'));
    const other = sha256Digest(new TextEncoder().encode('another blob'));
    expect(views.adopt(diffId, [file('bin/sh')], gzip)).toBe(true);
    const layerOf = (digest: string, reads: string[]) =>
      layerFromOpener(
        async () => {
          reads.push(digest);
          throw new Error('read');
        },
        { mediaType: MediaType.ociLayerGzip, digest: digest as typeof diffId, diffId, size: 1 },
      );
    const reads: string[] = [];
    const view = await views.viewOf([layerOf(gzip, reads)]);
    expect(view.lookup('bin/sh')?.type).toBe('file');
    expect(await views.known(diffId, gzip)).toHaveLength(1);
    expect(await views.known(diffId)).toBeUndefined(); // the tar itself is not known
    await expect(views.viewOf([layerOf(other, reads)])).rejects.toThrow();
    expect(reads).toEqual([other]);
  });

  it.each([
    ['a path climbing out', [file('../etc/passwd')]],
    ['an absolute path', [file('/etc/passwd')]],
    ['a path with dot segments', [file('a/./b')]],
    ['an unknown op', [{ op: 'chmod', path: 'a' }]],
    ['an unknown type', [file('a', { type: 'device' })]],
    ['a mode past 07777', [file('a', { mode: 0o100644 })]],
    ['a negative owner', [file('a', { uid: -1 })]],
    ['a NUL in a link', [file('a', { type: 'symlink', link: 'x\0y' })]],
    ['a record that is not an object', ['a']],
  ])('refuses a listing with %s (the step fetches its layer instead)', (_what, listing) => {
    const views = new LayerViews(join(dir, 'bad'));
    expect(views.adopt(diffId, listing)).toBe(false);
  });
});

describe('LayerViews.viewOf with an unpack (one pass for the view and the extracted layer)', () => {
  const big = 'x'.repeat(300_000); // several chunks
  const plainLayer = (tar: Buffer) => {
    const digest = sha256Digest(tar);
    return layerFromOpener(async () => Readable.from([tar.subarray(0, 70_000), tar.subarray(70_000)]), {
      mediaType: MediaType.ociLayer,
      digest,
      diffId: digest,
      size: tar.length,
    });
  };

  it('gives the unpack every byte of the tar, and the hash check once the tar is read', async () => {
    const tar = await tarOf({ 'a.txt': 'a', 'b.bin': big });
    const seen: Buffer[] = [];
    let checked = false;
    const views = new LayerViews(join(dir, 'unpack-all'));
    const view = await views.viewOf([plainLayer(tar)], 'base', async () => async (chunks, verified) => {
      for await (const chunk of chunks) seen.push(Buffer.from(chunk));
      await verified;
      checked = true;
    });
    expect(view.lookup('b.bin')?.type).toBe('file');
    expect(Buffer.concat(seen).equals(tar)).toBe(true);
    expect(checked).toBe(true);
  });

  it('goes on alone when the unpack stops reading early', async () => {
    const tar = await tarOf({ 'a.txt': 'a', 'b.bin': big, 'c.txt': 'c' });
    const views = new LayerViews(join(dir, 'unpack-stops'));
    const view = await views.viewOf([plainLayer(tar)], 'base', async () => async (chunks) => {
      const it = chunks[Symbol.asyncIterator]();
      await it.next();
      await it.return?.();
    });
    expect(view.lookup('c.txt')?.type).toBe('file');
  });

  it('rejects the hash check of a tar that is not the claimed diffID, and the view fails', async () => {
    const tar = await tarOf({ 'a.txt': 'a' });
    const gz = gzipSync(tar);
    const claimed = sha256Digest(new TextEncoder().encode('another tar'));
    const layer = layerFromOpener(async () => Readable.from([gz]), {
      mediaType: MediaType.ociLayerGzip,
      digest: sha256Digest(gz),
      diffId: claimed,
      size: gz.length,
    });
    let outcome = 'not run';
    const views = new LayerViews(join(dir, 'unpack-hostile'));
    await expect(
      views.viewOf([layer], 'base', async () => async (chunks, verified) => {
        for await (const _ of chunks);
        outcome = await verified.then(
          () => 'kept',
          (error: { code?: string }) => `dropped: ${error.code}`,
        );
      }),
    ).rejects.toMatchObject({ code: 'ENGINE_LAYER_MISMATCH' });
    expect(outcome).toBe('dropped: ENGINE_LAYER_MISMATCH');
  });
});
