import { createReadStream, mkdirSync, mkdtempSync, statSync, utimesSync, writeFileSync } from 'node:fs';
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

    // Packing read every file without moving its access time (O_NOATIME: the files are this user's),
    // which relatime would otherwise move from 1970 to now, in read order, on the first read.
    const data = join(cacheMountBase(cacheRoot, 'npm'), 'data');
    for (const [name, { used }] of Object.entries(npmFiles))
      expect(statSync(join(data, name)).atimeMs).toBe(used * 1000);
    const capped = await packCacheMount(store, cacheRoot, 'npm', 800);
    expect(capped?.dropped).toBe(1);
    const records = await readLayerRecords(createReadStream(store.path(capped?.layer.digest as Digest)));
    const files = records.flatMap((r) => (r.op === 'set' && r.type === 'file' ? [r.path] : []));
    expect(files.sort()).toEqual(['mid/c.tgz', 'new/b.tgz']);

    expect(await packCacheMount(store, cacheRoot, 'never-used', 800)).toBeUndefined();
  });
});
