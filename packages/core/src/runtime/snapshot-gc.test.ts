import {
  existsSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deadPid } from '../testing/processes.js';
import { claimKind, pruneSnapshots, snapshotUsage, sweepStale, takeSnapshotLease } from './snapshot-gc.js';
import { Snapshotter } from './snapshotter.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-snapshot-gc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A snapshot root laid out as the snapshotter leaves it, with files of `kib` KiB. */
function fakeRoot(name: string): string {
  const root = join(dir, name);
  for (const sub of ['layers', 'chains', 'runs', 'tmp']) mkdirSync(join(root, sub), { recursive: true });
  const layer = (hex: string, usedSecondsAgo: number, kib: number) => {
    mkdirSync(join(root, 'layers', hex, 'fs'), { recursive: true });
    writeFileSync(join(root, 'layers', hex, 'fs', 'f'), Buffer.alloc(kib * 1024, 1));
    const at = Date.now() / 1000 - usedSecondsAgo;
    lutimesSync(join(root, 'layers', hex), at, at);
  };
  layer('old', 300, 200);
  layer('new', 10, 200);
  // a committed run registered as a layer, used in between
  mkdirSync(join(root, 'runs', 'r1', 'fs'), { recursive: true });
  writeFileSync(join(root, 'runs', 'r1', 'fs', 'f'), Buffer.alloc(200 * 1024, 2));
  symlinkSync('../runs/r1', join(root, 'layers', 'committed'));
  const at = Date.now() / 1000 - 100;
  lutimesSync(join(root, 'layers', 'committed'), at, at);
  // what a killed build leaves: a run nothing points at, an extraction in progress
  mkdirSync(join(root, 'runs', 'orphan', 'fs'), { recursive: true });
  mkdirSync(join(root, 'tmp', 'x-1', 'fs'), { recursive: true });
  return root;
}

describe('sweepStale', () => {
  it('removes the runs and extractions of dead processes, keeps live and committed ones', async () => {
    const root = fakeRoot('sweep');
    const dead = deadPid();
    for (const run of [`${dead}-aa`, `${dead}-committed`, `${process.pid}-bb`]) {
      mkdirSync(join(root, 'runs', run, 'fs'), { recursive: true });
    }
    symlinkSync(`../runs/${dead}-committed`, join(root, 'layers', 'c2'));
    mkdirSync(join(root, 'tmp', `${dead}-x-1`));
    mkdirSync(join(root, 'tmp', `${process.pid}-x-2`));
    mkdirSync(join(root, 'leases'));
    writeFileSync(join(root, 'leases', `${dead}-cafe`), '');
    await sweepStale(root);
    expect(readdirSync(join(root, 'runs')).sort()).toEqual(
      [`${dead}-committed`, `${process.pid}-bb`, 'orphan', 'r1'].sort(),
    );
    expect(readdirSync(join(root, 'tmp')).sort()).toEqual([`${process.pid}-x-2`, 'x-1']);
    expect(readdirSync(join(root, 'leases'))).toEqual([]);
  });
});

describe('pruneSnapshots', () => {
  it('keeps the most recently used layers within the size, with the runs they link to; drops leftovers', async () => {
    const root = fakeRoot('lru');
    // ~200 KiB each (plus directory blocks): room for two of the three
    const result = await pruneSnapshots(root, { keepBytes: 500 * 1024 });
    expect(result.inUse).toEqual([]);
    expect(result.layers).toBe(1);
    expect(result.bytes).toBeGreaterThanOrEqual(200 * 1024);
    expect(readdirSync(join(root, 'layers')).sort()).toEqual(['committed', 'new']);
    expect(readdirSync(join(root, 'runs'))).toEqual(['r1']);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);

    const smaller = await pruneSnapshots(root, { keepBytes: 250 * 1024 });
    expect(readdirSync(join(root, 'layers'))).toEqual(['new']);
    expect(readdirSync(join(root, 'runs'))).toEqual([]); // r1 went with its link
    expect(smaller.layers).toBe(1);
  });

  it('removes everything (and the extra directories) when nothing is kept', async () => {
    const root = fakeRoot('all');
    const mounts = join(dir, 'all-cache-mounts');
    mkdirSync(join(mounts, 'abc', 'data'), { recursive: true });
    writeFileSync(join(mounts, 'abc', 'data', 'npm'), Buffer.alloc(64 * 1024));
    const before = await snapshotUsage(root);
    expect(before.layers).toBe(3);
    const result = await pruneSnapshots(root, { also: [mounts] });
    expect(result).toMatchObject({ layers: 3, inUse: [] });
    expect(result.bytes).toBe(before.bytes);
    expect(result.alsoBytes).toBeGreaterThanOrEqual(64 * 1024);
    expect(existsSync(root)).toBe(false);
    expect(existsSync(mounts)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.startsWith('all.gc-'))).toEqual([]);
  });

  it('leaves a root alone while a build holds a lease on it; a dead process’s lease does not count', async () => {
    const root = fakeRoot('leased');
    const lease = await takeSnapshotLease(root, async () => {});
    const busy = await pruneSnapshots(root);
    expect(busy).toMatchObject({ bytes: 0, layers: 0, inUse: [process.pid] });
    expect(readdirSync(join(root, 'layers'))).toHaveLength(3);
    await lease.release();
    const dead = deadPid();
    writeFileSync(join(root, 'leases', `${dead}-deadbeef`), `${dead}\n`);
    const pruned = await pruneSnapshots(root);
    expect(pruned.inUse).toEqual([]);
    expect(existsSync(root)).toBe(false);
  });

  it('snapshots of another kind are discarded; an older root without a kind is kept and labelled', async () => {
    const root = fakeRoot('kinds');
    await claimKind(root, 'owners=kept xattrs=trusted'); // made before kinds were recorded: kept
    expect(readdirSync(join(root, 'layers'))).toHaveLength(3);
    expect(readFileSync(join(root, 'kind'), 'utf8')).toBe('owners=kept xattrs=trusted\n');
    await claimKind(root, 'owners=kept xattrs=trusted');
    expect(readdirSync(join(root, 'layers'))).toHaveLength(3);
    await claimKind(root, 'owners=caller xattrs=user'); // a rootless build: the owners would be wrong
    expect(readdirSync(root)).toEqual(['kind']);
    expect(readFileSync(join(root, 'kind'), 'utf8')).toBe('owners=caller xattrs=user\n');
    expect(readdirSync(dir).filter((n) => n.startsWith('kinds.gc-'))).toEqual([]);
  });

  it('a kind change waits for no one: with a live lease of the other kind it fails', async () => {
    const root = fakeRoot('kinds-busy');
    await claimKind(root, 'owners=kept xattrs=trusted');
    const lease = await takeSnapshotLease(root, async () => {});
    await expect(claimKind(root, 'owners=caller xattrs=user')).rejects.toThrow(
      /another kind .* in use by pid/,
    );
    await lease.release();
  });

  it.skipIf(process.getuid?.() !== 0)('an open Snapshotter holds a lease until closed', async () => {
    const root = join(dir, 'real');
    const snapshotter = await Snapshotter.open({ root });
    expect((await pruneSnapshots(root)).inUse).toEqual([process.pid]);
    await snapshotter.close();
    expect((await pruneSnapshots(root)).inUse).toEqual([]);
    expect(existsSync(root)).toBe(false);
    // the next build starts from a fresh root
    const again = await Snapshotter.open({ root });
    expect(readdirSync(root).sort()).toEqual([
      'chains',
      'empty',
      'kind',
      'layers',
      'leases',
      'runs',
      'tmp',
      'unsynced',
    ]);
    await again.close();
  });
});
