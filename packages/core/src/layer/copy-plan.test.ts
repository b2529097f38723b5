import { execFileSync } from 'node:child_process';
import { chmod, link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../store/index.js';
import { detectArchive } from './archive.js';
import { type CopyPlanOptions, planCopy } from './copy-plan.js';
import { MemoryFsView } from './fs-view.js';
import { writeLayer } from './layer-writer.js';
import { openContextSource, openDirSource, type SourceTree } from './source.js';

let ctx: string;
let source: SourceTree;

beforeAll(async () => {
  ctx = await mkdtemp(path.join(tmpdir(), 'wharf-plan-'));
  const w = (p: string, s: string) => writeFile(path.join(ctx, p), s);
  await mkdir(path.join(ctx, 'app/src/deep'), { recursive: true });
  await mkdir(path.join(ctx, 'app/node_modules/x'), { recursive: true });
  await w('app/package.json', '{}');
  await w('app/src/index.ts', 'x');
  await w('app/src/deep/a.test.ts', 't');
  await w('app/node_modules/x/i.js', 'm');
  await w('one.txt', '1');
  await w('two.txt', '2');
  await chmod(path.join(ctx, 'one.txt'), 0o600);
  await link(path.join(ctx, 'one.txt'), path.join(ctx, 'app/one-hard'));
  await symlink('../../etc/passwd', path.join(ctx, 'escape'));
  await symlink('/etc/passwd', path.join(ctx, 'absolute'));
  execFileSync('mkfifo', [path.join(ctx, 'app/fifo')]);
  // archives
  await mkdir(path.join(ctx, 'payload/bin'), { recursive: true });
  await w('payload/bin/tool', '#!/bin/sh\n');
  await chmod(path.join(ctx, 'payload/bin/tool'), 0o750);
  await w('payload/.wh.hidden', 'not a whiteout here');
  for (const [flag, ext] of [
    ['-z', 'tar.gz'],
    ['-j', 'tar.bz2'],
    ['-J', 'tar.xz'],
    ['', 'tar'],
  ] as const) {
    execFileSync('tar', [
      ...(flag ? [flag] : []),
      '-cf',
      path.join(ctx, `p.${ext}`),
      '--owner=1234',
      '--group=55',
      '-C',
      path.join(ctx, 'payload'),
      '.',
    ]);
  }
  execFileSync('gzip', ['-k', path.join(ctx, 'two.txt')]); // gzip but not a tar
  source = await openContextSource(ctx, { ignore: ['payload', 'app/fifo-ignored'] });
});

afterAll(async () => {
  await rm(ctx, { recursive: true, force: true });
});

const plan = (o: Partial<CopyPlanOptions> & Pick<CopyPlanOptions, 'sources' | 'dest'>) =>
  planCopy({ source, view: new MemoryFsView(), ...o }).then((p) => p.entries.map((e) => [e.path, e.type]));

describe('planCopy', () => {
  it('copies a file to a new name, into an existing dir, and into a dir/ it creates', async () => {
    expect(await plan({ sources: ['one.txt'], dest: 'x', workdir: '/w' })).toEqual([
      ['w', 'dir'],
      ['w/x', 'file'],
    ]);
    const view = new MemoryFsView();
    view.set('usr/bin', { type: 'dir', mode: 0o755, uid: 0, gid: 0 });
    expect(await plan({ sources: ['one.txt'], dest: '/usr/bin', view })).toEqual([
      ['usr', 'dir'],
      ['usr/bin', 'dir'],
      ['usr/bin/one.txt', 'file'],
    ]);
    expect(await plan({ sources: ['one.txt', 'two.txt'], dest: '/new/', workdir: '/' })).toEqual([
      ['new', 'dir'],
      ['new/one.txt', 'file'],
      ['new/two.txt', 'file'],
    ]);
  });

  it('copies directory contents, preserves hard links, modes, and applies --chown to created parents', async () => {
    const { entries } = await planCopy({
      sources: ['app', 'one.txt'],
      dest: '/opt/a/',
      source,
      view: new MemoryFsView(),
      chown: { uid: 1000, gid: 1000 },
      exclude: ['node_modules', 'fifo'],
    });
    const byPath = new Map(entries.map((e) => [e.path, e]));
    expect(byPath.get('opt')).toMatchObject({ type: 'dir', mode: 0o755, uid: 1000, gid: 1000 });
    expect(byPath.get('opt/a/one-hard')).toMatchObject({ type: 'file', mode: 0o600, uid: 1000 });
    expect(byPath.get('opt/a/one.txt')).toMatchObject({ type: 'hardlink', linkTarget: 'opt/a/one-hard' });
    expect([...byPath.keys()].some((p) => p.includes('node_modules'))).toBe(false);
  });

  it('--chmod applies to files and copied directories but not to created parents', async () => {
    const { entries } = await planCopy({
      sources: ['app/src'],
      dest: '/s',
      source,
      view: new MemoryFsView(),
      chmod: '0700',
    });
    expect(entries.map((e) => [e.path, e.mode.toString(8)])).toEqual([
      ['s', '755'],
      ['s/deep', '700'],
      ['s/deep/a.test.ts', '700'],
      ['s/index.ts', '700'],
    ]);
    await expect(plan({ sources: ['one.txt'], dest: '/x', chmod: 'u+x' })).rejects.toMatchObject({
      code: 'COPY_BAD_CHMOD',
    });
  });

  it('--parents keeps source paths; --exclude uses .dockerignore patterns relative to each source', async () => {
    expect(await plan({ sources: ['app/src/*.ts', 'one.txt'], dest: '/p/', parents: true })).toEqual([
      ['p', 'dir'],
      ['p/app', 'dir'],
      ['p/app/src', 'dir'],
      ['p/app/src/index.ts', 'file'],
      ['p/one.txt', 'file'],
    ]);
    expect(await plan({ sources: ['app/./src/**/*.ts'], dest: '/q/', parents: true })).toEqual([
      ['q', 'dir'],
      ['q/src', 'dir'],
      ['q/src/deep', 'dir'],
      ['q/src/deep/a.test.ts', 'file'],
      ['q/src/index.ts', 'file'],
    ]);
    // `deep` itself is not excluded, so it is created (empty), as BuildKit does.
    expect(await plan({ sources: ['app/src'], dest: '/e', exclude: ['**/*.test.ts'] })).toEqual([
      ['e', 'dir'],
      ['e/deep', 'dir'],
      ['e/index.ts', 'file'],
    ]);
  });

  it('matches wildcards like filepath.Match; an empty match copies nothing; a missing literal path fails', async () => {
    expect(await plan({ sources: ['*.txt'], dest: '/t/' })).toEqual([
      ['t', 'dir'],
      ['t/one.txt', 'file'],
      ['t/two.txt', 'file'],
    ]);
    expect(await plan({ sources: ['app/*/*.ts'], dest: '/t/' })).toEqual([
      ['t', 'dir'],
      ['t/index.ts', 'file'],
    ]);
    expect(await plan({ sources: ['nothing*'], dest: '/t/' })).toEqual([]); // not even the destination
    await expect(plan({ sources: ['missing.txt'], dest: '/t/' })).rejects.toMatchObject({
      code: 'COPY_SOURCE_NOT_FOUND',
      message: 'COPY failed: "/missing.txt" not found in the build context',
    });
    await expect(plan({ sources: ['payload/bin/tool'], dest: '/t/' })).rejects.toMatchObject({
      code: 'COPY_SOURCE_NOT_FOUND', // excluded by the ignore patterns
    });
    await expect(plan({ sources: ['[a-'], dest: '/t/' })).rejects.toMatchObject({ code: 'COPY_BAD_PATTERN' });
  });

  it('copies several sources to a destination that is not written as a directory one after another', async () => {
    // BuildKit 20.10 and current: no "must end with a /" error (that is the classic builder's); each
    // source is copied in turn, so the last file wins when the destination is not a directory.
    const onto = await planCopy({
      source,
      view: new MemoryFsView(),
      sources: ['one.txt', 'two.txt'],
      dest: '/file',
    });
    expect(onto.entries.map((e) => [e.path, e.type])).toEqual([['file', 'file']]);
    expect(onto.entries[0]).toMatchObject({
      content: { kind: 'path', path: expect.stringMatching(/two\.txt$/) },
    });
    // `.` means the WORKDIR as a directory, and an existing directory is fine without a slash.
    expect(await plan({ sources: ['*.txt'], dest: '.', workdir: '/w' })).toHaveLength(3);
    const view = new MemoryFsView();
    view.set('dir', { type: 'dir', mode: 0o755, uid: 0, gid: 0 });
    expect(await plan({ sources: ['one.txt', 'two.txt'], dest: '/dir', view })).toHaveLength(3);
  });

  it('rejects sources outside the context and special files, naming them', async () => {
    await expect(plan({ sources: ['../secret'], dest: '/x' })).rejects.toMatchObject({
      code: 'COPY_SOURCE_OUTSIDE_CONTEXT',
    });
    await expect(plan({ sources: ['escape'], dest: '/x' })).rejects.toMatchObject({
      code: 'COPY_SOURCE_OUTSIDE_CONTEXT',
    });
    await expect(plan({ sources: ['absolute'], dest: '/x' })).rejects.toMatchObject({
      code: 'COPY_SOURCE_OUTSIDE_CONTEXT',
    });
    await expect(plan({ sources: ['app'], dest: '/x' })).rejects.toMatchObject({
      code: 'COPY_SPECIAL_FILE',
      message: expect.stringContaining('app/fifo'),
    });
    // Inside a copied directory a symlink is copied as a link, wherever it points.
    const dirSource = openDirSource(ctx);
    const { entries } = await planCopy({
      sources: ['/'],
      dest: '/r/',
      source: dirSource,
      view: new MemoryFsView(),
      exclude: ['app'],
    });
    expect(entries.find((e) => e.path === 'r/escape')).toMatchObject({
      type: 'symlink',
      linkTarget: '../../etc/passwd',
    });
    // In a stage rootfs, `..` stops at the root instead.
    await expect(
      planCopy({ sources: ['../one.txt'], dest: '/z', source: dirSource, view: new MemoryFsView() }),
    ).resolves.toBeTruthy();
  });

  it('resolves destination symlinks inside the image root', async () => {
    const view = new MemoryFsView();
    view.set('data', { type: 'dir', mode: 0o700, uid: 5, gid: 5 });
    view.set('link', { type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkTarget: '/../../data' });
    const { entries } = await planCopy({ sources: ['one.txt'], dest: '/link', source, view });
    expect(entries).toEqual([
      { type: 'dir', path: 'data', mode: 0o700, uid: 5, gid: 5 },
      expect.objectContaining({ path: 'data/one.txt', type: 'file' }),
    ]);
  });
});

describe('ADD', () => {
  const addSource = async () => openContextSource(ctx, { ignore: [] });

  it.each(['tar.gz', 'tar.bz2', 'tar.xz', 'tar'])(
    'unpacks a local .%s with its owners and modes, whiteouts as files',
    async (ext) => {
      const src = await addSource();
      expect(await detectArchive(path.join(ctx, `p.${ext}`))).toBe(
        { 'tar.gz': 'gzip', 'tar.bz2': 'bzip2', 'tar.xz': 'xz', tar: 'none' }[ext],
      );
      const { entries } = await planCopy({
        instruction: 'ADD',
        sources: [`p.${ext}`],
        dest: '/opt/p',
        source: src,
        view: new MemoryFsView(),
      });
      const byPath = new Map(entries.map((e) => [e.path, e]));
      expect(byPath.get('opt/p/bin/tool')).toMatchObject({
        type: 'file',
        mode: 0o750,
        uid: 1234,
        gid: 55,
        size: 10,
      });
      expect(byPath.get('opt/p/.wh.hidden')).toMatchObject({ type: 'file' });
      const store = await openStore({ root: path.join(ctx, '..', `${path.basename(ctx)}-store`) });
      const layer = await writeLayer(store, entries, { env: {} });
      const listing = execFileSync('tar', ['-tvf', '-'], {
        input: gunzipSync(await store.readBytes(layer.digest)),
        encoding: 'utf8',
      });
      expect(listing).toMatch(/^-rwxr-x--- 1234\/55 +10 1970-01-01 00:00 opt\/p\/bin\/tool$/m);
      await rm(store.root, { recursive: true, force: true });
    },
  );

  it('copies other files (a gzip that is not a tar, plain text) as they are', async () => {
    const src = await addSource();
    const { entries } = await planCopy({
      instruction: 'ADD',
      sources: ['two.txt.gz', 'one.txt'],
      dest: '/d/',
      source: src,
      view: new MemoryFsView(),
    });
    expect(entries.map((e) => [e.path, e.type])).toEqual([
      ['d', 'dir'],
      ['d/two.txt.gz', 'file'],
      ['d/one.txt', 'file'],
    ]);
  });
});

describe('the lazy context source', () => {
  it('plans the same entries when it keeps only a few listings (dropped ones are listed again)', async () => {
    const options = { ignore: ['payload', 'app/fifo*'] };
    const all = { sources: ['.'], dest: '/out/', view: new MemoryFsView() };
    const roomy = await planCopy({ ...all, source: await openContextSource(ctx, options) });
    const tight = await openContextSource(ctx, { ...options, keptEntries: 1 });
    const planned = await planCopy({ ...all, view: new MemoryFsView(), source: tight });
    expect(planned.entries).toEqual(roomy.entries);
    expect(roomy.entries.length).toBeGreaterThan(5);
    // and a path that leaves the context is still refused when its directory was dropped
    await expect(
      planCopy({ ...all, view: new MemoryFsView(), source: tight, sources: ['../x'] }),
    ).rejects.toThrow();
  });
});
