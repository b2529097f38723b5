import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { layerFromOpener } from '../image/partial.js';
import { MemoryFsView } from '../layer/fs-view.js';
import { MediaType, sha256Digest } from '../oci/index.js';
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
