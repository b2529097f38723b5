import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LayerEntry } from '../layer/entry.js';
import { MemoryFsView } from '../layer/fs-view.js';
import { applyChangeSet, overlayChanges, scanChanges } from './changes.js';
import { writeOverlayAttrs } from './overlay-attrs.js';

const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-changes-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const summary = (entries: readonly LayerEntry[]) =>
  entries.map((e) =>
    e.type === 'hardlink' || e.type === 'symlink'
      ? `${e.type}:${e.path}->${e.linkTarget}`
      : `${e.type}:${e.path}`,
  );

describe.skipIf(!isRoot)('overlayChanges: an upper directory → layer entries', () => {
  it('turns overlay whiteouts and opaque directories into OCI whiteout files', async () => {
    const upper = scratch();
    mkdirSync(join(upper, 'etc'));
    writeFileSync(join(upper, 'etc/app.conf'), 'x=1\n');
    mkdirSync(join(upper, 'var/cache'), { recursive: true });
    writeFileSync(join(upper, 'var/cache/new'), 'n');
    // a mount point the step left (an empty directory) and what it put there itself: all in the upper
    // dir is the step's, mounts never write into it
    mkdirSync(join(upper, 'mnt/cache'), { recursive: true });
    writeFileSync(join(upper, 'mnt/cache/planted'), 'kept');
    symlinkSync('app.conf', join(upper, 'etc/link'));
    writeFileSync(join(upper, 'big'), 'same inode');
    linkSync(join(upper, 'big'), join(upper, 'etc/alias'));
    await writeOverlayAttrs(upper, ['bin/ls', 'gone'], [{ path: 'var/cache', mode: 0o755, uid: 0, gid: 0 }]);
    const changes = await overlayChanges(upper);
    expect(summary(changes.entries)).toEqual([
      'file:.wh.gone',
      'file:big',
      'dir:bin',
      'file:bin/.wh.ls',
      'dir:etc',
      'hardlink:etc/alias->big',
      'file:etc/app.conf',
      'symlink:etc/link->app.conf',
      'dir:mnt',
      'dir:mnt/cache',
      'file:mnt/cache/planted',
      'dir:var',
      'dir:var/cache',
      'file:var/cache/.wh..wh..opq',
      'file:var/cache/new',
    ]);
    expect(changes.deletions).toEqual(['bin/ls', 'gone']);
    expect(changes.opaque).toEqual(['var/cache']);
    const marker = changes.entries.find((e) => e.path === '.wh.gone');
    expect(marker).toMatchObject({ type: 'file', size: 0, content: { kind: 'bytes' } });
    const file = changes.entries.find((e) => e.path === 'etc/app.conf');
    expect(file).toMatchObject({
      type: 'file',
      size: 4,
      content: { kind: 'path', path: join(upper, 'etc/app.conf') },
    });
  });

  it('leaves out directories that were only copied up', async () => {
    const lower = scratch();
    const upper = scratch();
    for (const root of [lower, upper]) mkdirSync(join(root, 'etc'), { mode: 0o755 });
    chmodSync(join(lower, 'etc'), 0o755);
    chmodSync(join(upper, 'etc'), 0o755);
    mkdirSync(join(upper, 'new'));
    const lowerStat = async (p: string) =>
      (await import('node:fs/promises')).lstat(join(lower, p)).catch(() => undefined);
    expect(summary((await overlayChanges(upper, { lowerStat })).entries)).toEqual(['dir:new']);
    chmodSync(join(upper, 'etc'), 0o700); // a chmod is a change
    expect(summary((await overlayChanges(upper, { lowerStat })).entries)).toEqual(['dir:etc', 'dir:new']);
  });
});

describe('applyChangeSet', () => {
  it('empties opaque directories, removes deletions, then sets entries', () => {
    const view = new MemoryFsView();
    const file = { type: 'file' as const, mode: 0o644, uid: 0, gid: 0 };
    view.set('bin/ls', file);
    view.set('bin/sh', file);
    view.set('var/cache/a', file);
    applyChangeSet(view, {
      entries: [
        { type: 'dir', path: 'bin', mode: 0o755, uid: 0, gid: 0 },
        {
          type: 'file',
          path: 'bin/.wh.ls',
          mode: 0,
          uid: 0,
          gid: 0,
          size: 0,
          content: { kind: 'bytes', data: new Uint8Array() },
        },
        { type: 'dir', path: 'var/cache', mode: 0o755, uid: 0, gid: 0 },
        {
          type: 'file',
          path: 'var/cache/.wh..wh..opq',
          mode: 0,
          uid: 0,
          gid: 0,
          size: 0,
          content: { kind: 'bytes', data: new Uint8Array() },
        },
        {
          type: 'file',
          path: 'var/cache/b',
          mode: 0o600,
          uid: 0,
          gid: 0,
          size: 1,
          content: { kind: 'bytes', data: new Uint8Array([1]) },
        },
      ],
      deletions: ['bin/ls'],
      opaque: ['var/cache'],
    });
    expect([...view.walk()].map(([p]) => p)).toEqual(['bin', 'bin/sh', 'var', 'var/cache', 'var/cache/b']);
  });
});

describe('scanChanges: the copy fallback', () => {
  it('finds added, modified, deleted and re-typed entries by lstat, hashing when metadata ties', async () => {
    const lower = scratch();
    mkdirSync(join(lower, 'etc'));
    writeFileSync(join(lower, 'etc/same'), 'unchanged');
    writeFileSync(join(lower, 'etc/sneaky'), 'aaaa');
    writeFileSync(join(lower, 'etc/edited'), 'v1');
    writeFileSync(join(lower, 'etc/chmod'), 'c');
    symlinkSync('same', join(lower, 'etc/link'));
    mkdirSync(join(lower, 'gone/deep'), { recursive: true });
    writeFileSync(join(lower, 'file-then-dir'), 'f');
    utimesSync(join(lower, 'etc/sneaky'), 1000, 1000);
    const upper = join(scratch(), 'copy');
    execFileSync('cp', ['-a', lower, upper]);
    const since = Date.now() + 5; // the step starts after the copy
    await new Promise((resolve) => setTimeout(resolve, 20));
    writeFileSync(join(upper, 'etc/sneaky'), 'bbbb'); // same size…
    utimesSync(join(upper, 'etc/sneaky'), 1000, 1000); // …and the mtime restored
    writeFileSync(join(upper, 'etc/edited'), 'v2');
    chmodSync(join(upper, 'etc/chmod'), 0o600);
    unlinkSync(join(upper, 'etc/link'));
    symlinkSync('edited', join(upper, 'etc/link'));
    rmSync(join(upper, 'gone'), { recursive: true });
    rmSync(join(upper, 'file-then-dir'));
    mkdirSync(join(upper, 'file-then-dir'));
    writeFileSync(join(upper, 'file-then-dir/x'), 'x');
    // mounts never write into the copy: a file there is the step's own, even at a mount target
    writeFileSync(join(upper, 'etc/resolv.conf'), 'planted');
    const changes = await scanChanges(lower, upper, { since });
    expect(summary(changes.entries)).toEqual([
      'file:.wh.gone',
      'dir:etc',
      'file:etc/chmod',
      'file:etc/edited',
      'symlink:etc/link->edited',
      'file:etc/resolv.conf',
      'file:etc/sneaky',
      'dir:file-then-dir',
      'file:file-then-dir/x',
    ]);
    expect(changes.deletions).toEqual(['gone']);
  });

  it('a new hard link to an unchanged file brings that file along, as overlay’s copy-up does', async () => {
    const lower = scratch();
    mkdirSync(join(lower, 'a'));
    mkdirSync(join(lower, 'b'));
    writeFileSync(join(lower, 'a/old'), 'o');
    const upper = join(scratch(), 'copy');
    execFileSync('cp', ['-a', lower, upper]);
    const since = Date.now() + 5;
    await new Promise((resolve) => setTimeout(resolve, 20));
    linkSync(join(upper, 'a/old'), join(upper, 'b/new'));
    const changes = await scanChanges(lower, upper, { since });
    // a/ had no change of its own: it comes in as the parent of the linked file
    expect(summary(changes.entries)).toEqual(['dir:a', 'file:a/old', 'dir:b', 'hardlink:b/new->a/old']);
  });

  it('records a directory deleted and made again as opaque, as overlay does', async () => {
    const lower = scratch();
    mkdirSync(join(lower, 'opt/x/y'), { recursive: true });
    writeFileSync(join(lower, 'opt/x/y/z'), 'z');
    mkdirSync(join(lower, 'kept'));
    writeFileSync(join(lower, 'kept/old'), 'o');
    const upper = join(scratch(), 'copy');
    execFileSync('cp', ['-a', lower, upper]);
    const since = Date.now() + 5;
    await new Promise((resolve) => setTimeout(resolve, 20));
    rmSync(join(upper, 'opt/x'), { recursive: true });
    mkdirSync(join(upper, 'opt/x'));
    writeFileSync(join(upper, 'opt/x/new'), 'n');
    rmSync(join(upper, 'kept/old')); // the directory itself stays: a whiteout, not opaque
    const changes = await scanChanges(lower, upper, { since });
    expect(summary(changes.entries)).toEqual([
      'dir:kept',
      'file:kept/.wh.old',
      'dir:opt',
      'dir:opt/x',
      'file:opt/x/.wh..wh..opq',
      'file:opt/x/new',
    ]);
    expect(changes.opaque).toEqual(['opt/x']);
    expect(changes.deletions).toEqual(['kept/old']);
  });
});
