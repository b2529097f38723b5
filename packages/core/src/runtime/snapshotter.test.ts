import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Digest, sha256Digest } from '../oci/index.js';
import { tarOf } from '../testing/random.js';
import { type SnapshotLayer, Snapshotter } from './snapshotter.js';

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

describe.skipIf(process.getuid?.() !== 0)('Snapshotter.unpacker (one-pass base preparation)', () => {
  /** A snapshot of `layers` holds /etc/hello from the tar. */
  const expectHello = async (snapshotter: Snapshotter, layers: SnapshotLayer[]) => {
    const snapshot = await snapshotter.prepare(layers);
    try {
      expect(readFileSync(join(snapshot.rootfs, 'etc/hello'), 'utf8')).toBe('hi');
    } finally {
      await snapshot.release();
    }
  };
  const never = (diffId: Digest) => ({
    diffId: async () => diffId,
    uncompressed: async (): Promise<Readable> => {
      throw new Error('the tar must not be read again');
    },
  });

  it('extracts a layer from the stream it is given, and prepare() uses it without reading the tar', async () => {
    const snapshotter = await Snapshotter.open({ root: join(dir, 'unpack'), mode: 'overlay' });
    try {
      const tar = await tarOf({ 'etc/hello': 'hi' });
      const diffId = sha256Digest(tar);
      const unpack = snapshotter.unpacker(diffId);
      expect(unpack).toBeDefined();
      await unpack?.(Readable.from([tar]), Promise.resolve());
      await expectHello(snapshotter, [never(diffId)]);
    } finally {
      await snapshotter.close();
    }
  });

  it('keeps nothing when the hash check fails; prepare() then extracts (and checks) the layer itself', async () => {
    const snapshotter = await Snapshotter.open({ root: join(dir, 'unpack-bad'), mode: 'overlay' });
    try {
      const tar = await tarOf({ 'etc/hello': 'hi' });
      const diffId = sha256Digest(tar);
      const unpack = snapshotter.unpacker(diffId);
      await expect(
        unpack?.(Readable.from([tar]), Promise.reject(new Error('not that tar'))),
      ).rejects.toThrow();
      expect(existsSync(join(dir, 'unpack-bad', 'layers', diffId.slice('sha256:'.length)))).toBe(false);
      expect(readdirSync(join(dir, 'unpack-bad', 'tmp'))).toEqual([]);
      await expectHello(snapshotter, [
        { diffId: async () => diffId, uncompressed: async () => Readable.from([tar]) },
      ]);
    } finally {
      await snapshotter.close();
    }
  });
});
