import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Layer } from '../image/types.js';
import { fileLayer } from '../testing/random.js';
import { LayerViews } from './layer-views.js';
import { StageFiles } from './stage-files.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-stage-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Counts how often a layer's tar is opened. */
function counted(layer: Layer, opened: Map<Layer, number>): Layer {
  const wrapped: Layer = new Proxy(layer, {
    get(target, prop) {
      if (prop === 'uncompressed') {
        return () => {
          opened.set(wrapped, (opened.get(wrapped) ?? 0) + 1);
          return target.uncompressed();
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return wrapped;
}

describe('StageFiles', () => {
  it('reads a file from the layer that has it, and opens no other layer for it', async () => {
    const opened = new Map<Layer, number>();
    const base = counted(
      await fileLayer({ 'etc/passwd': 'root:x:0:0::/root:/bin/sh\n', 'usr/bin/tool': 'x'.repeat(100_000) }),
      opened,
    );
    const upper = counted(await fileLayer({ 'app/server.js': 'listen()' }), opened);
    const views = new LayerViews(join(dir, 'views'));
    await views.records(base);
    await views.records(upper);
    opened.clear();
    const files = new StageFiles(async () => [base, upper], views);
    expect(Buffer.from((await files.read('/etc/passwd')) ?? []).toString()).toContain('root:x:0:0');
    expect(opened.get(upper)).toBeUndefined();
    expect(opened.get(base)).toBe(1);
    expect(await files.read('/etc/group')).toBeUndefined();
    expect(opened.get(base)).toBe(1); // the records say no layer has it
  });

  it('honours a whiteout in an upper layer', async () => {
    const base = await fileLayer({ 'etc/passwd': 'root:x:0:0::/root:/bin/sh\n' });
    const upper = await fileLayer({ 'etc/.wh.passwd': '' });
    const views = new LayerViews(join(dir, 'views2'));
    const files = new StageFiles(async () => [base, upper], views);
    expect(await files.read('etc/passwd')).toBeUndefined();
  });
});
