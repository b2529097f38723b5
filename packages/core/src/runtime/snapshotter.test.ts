import { chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Snapshotter } from './snapshotter.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-snapshotter-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const saved = process.env.WHARF_SNAPSHOTTER;
afterEach(() => {
  if (saved === undefined) delete process.env.WHARF_SNAPSHOTTER;
  else process.env.WHARF_SNAPSHOTTER = saved;
});

describe('Snapshotter.open', () => {
  it('takes its mode from WHARF_SNAPSHOTTER when not given one', async () => {
    process.env.WHARF_SNAPSHOTTER = 'copy';
    const snapshotter = await Snapshotter.open({ root: join(dir, 'env-copy') });
    expect(snapshotter.mode).toBe('copy');
    expect(snapshotter.userns).toBeUndefined();
  });

  it('refuses an unknown WHARF_SNAPSHOTTER, naming the values', async () => {
    process.env.WHARF_SNAPSHOTTER = 'zfs';
    await expect(Snapshotter.open({ root: join(dir, 'env-bad') })).rejects.toMatchObject({
      code: 'RUNTIME_SNAPSHOT_FAILED',
      message: 'WHARF_SNAPSHOTTER=zfs is not a snapshotter',
      hint: expect.stringMatching(/overlay, copy or auto/),
    });
  });

  it.skipIf(process.getuid?.() !== 0)('refuses a snapshot directory another user owns', async () => {
    const root = join(dir, 'theirs');
    mkdirSync(root);
    chownSync(root, 65534, 65534);
    await expect(Snapshotter.open({ root, mode: 'copy' })).rejects.toMatchObject({
      code: 'RUNTIME_SNAPSHOT_FAILED',
      message: expect.stringMatching(/belongs to uid 65534, not to this user \(uid 0\)/),
      hint: expect.stringMatching(/--cache-dir/),
    });
  });
});
