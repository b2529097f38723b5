import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../store/index.js';
import { scratchDirs } from '../testing/scratch.js';
import { pruneCache } from './prune.js';

const scratch = scratchDirs('wharf-prune-test-');
afterAll(scratch.remove);

describe('pruneCache', () => {
  it('removes position records of the old format, keeps the current ones (they explain misses)', async () => {
    const root = scratch.fresh();
    const store = await openStore({ root });
    mkdirSync(join(root, 'slots'));
    writeFileSync(join(root, 'slots', 'aa.json'), '{}');
    writeFileSync(join(root, 'slots', 'bb.v2'), 'wharf step position v2 k\n');
    await pruneCache(store, { keepBytes: 1e9 });
    expect(readdirSync(join(root, 'slots'))).toEqual(['bb.v2']);
    await pruneCache(store, { all: true });
    expect(readdirSync(join(root, 'slots'))).toEqual(['bb.v2']);
  });
});
