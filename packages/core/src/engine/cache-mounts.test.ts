import { createReadStream, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLayerRecords } from '../layer/fs-view.js';
import type { Digest } from '../oci/index.js';
import { cacheMountBase } from '../runtime/mounts.js';
import { openStore } from '../store/store.js';
import { packCacheMount } from './cache-mounts.js';

function mountWith(cacheRoot: string, id: string, files: Record<string, { bytes: number; used: number }>) {
  const data = join(cacheMountBase(cacheRoot, id), 'data');
  for (const [name, { bytes, used }] of Object.entries(files)) {
    mkdirSync(join(data, name, '..'), { recursive: true });
    writeFileSync(join(data, name), Buffer.alloc(bytes, name));
    utimesSync(join(data, name), used, used);
  }
}

/** Three files of one mount, used in the order old, mid, new (times in seconds). */
const npmFiles = {
  'old/a.tgz': { bytes: 400, used: 1_000 },
  'new/b.tgz': { bytes: 400, used: 3_000 },
  'mid/c.tgz': { bytes: 400, used: 2_000 },
};

describe('packCacheMount', () => {
  it('is deterministic, leaves the least recently used files out past the limit, and skips absent mounts', async () => {
    const root = mkdtempSync(join(tmpdir(), 'wharf-mounts-'));
    const store = await openStore({ root: join(root, 'store') });
    const cacheRoot = join(root, 'cache-mounts');
    mountWith(cacheRoot, 'npm', npmFiles);
    const all = await packCacheMount(store, cacheRoot, 'npm', 10_000);
    const again = await packCacheMount(store, cacheRoot, 'npm', 10_000);
    expect(again?.layer.digest).toBe(all?.layer.digest);
    expect(all?.dropped).toBe(0);

    // Packing reads every file, and with relatime the kernel moves a 1970 atime to now on the first
    // read, in read order: stamp the use times again so the capped pack sees the ones this test means.
    mountWith(cacheRoot, 'npm', npmFiles);
    const capped = await packCacheMount(store, cacheRoot, 'npm', 800);
    expect(capped?.dropped).toBe(1);
    const records = await readLayerRecords(createReadStream(store.path(capped?.layer.digest as Digest)));
    const files = records.flatMap((r) => (r.op === 'set' && r.type === 'file' ? [r.path] : []));
    expect(files.sort()).toEqual(['mid/c.tgz', 'new/b.tgz']);

    expect(await packCacheMount(store, cacheRoot, 'never-used', 800)).toBeUndefined();
  });
});
