// One table of resolutions, run against every view the resolver serves: a directory on disk, the
// in-memory image view COPY plans with, and a stage tree as COPY --from reads it. The links point at
// real host paths (/etc/passwd…), which must never be what a resolution names.
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryFsView, resolveInView, resolveUnder } from '../layer/fs-view.js';
import { openContextSource, openDirSource, resolveSource } from '../layer/source.js';
import { openInRoot, openResolved, resolveOnDisk } from './disk.js';
import { MAX_LINKS, resolveInRootSync } from './resolve.js';

/** A tree: `dir/` for directories, `path: 'text'` for files, `path: '-> target'` for symlinks. */
const tree: Record<string, string> = {
  'etc/': '',
  'etc/passwd': 'in-root passwd',
  'real/': '',
  'real/sub/': '',
  'real/sub/f': 'f',
  'a/': '',
  'a/b/': '',
  'abs-link': '-> /etc/passwd',
  'dir-link': '-> /real',
  'rel-dir-link': '-> real',
  'a/b/up': '-> ../../../..',
  'a/rel': '-> ../real/sub',
  hostroot: '-> /',
  dangling: '-> /nope/x',
  loop: '-> loop',
  'ping/': '',
  'ping/pong': '-> /ping/pong',
  'chain-ok': '-> c1',
  'chain-long': '-> c0',
  ...Object.fromEntries(
    Array.from({ length: MAX_LINKS }, (_, i) => [`c${i}`, i === MAX_LINKS - 1 ? '-> real' : `-> c${i + 1}`]),
  ),
};

/** [path, expected clean path or an error pattern, options]. */
const cases: [string, string | RegExp, { followFinal?: boolean }?][] = [
  ['/etc/passwd', 'etc/passwd'],
  ['abs-link', 'etc/passwd'],
  ['/abs-link', 'etc/passwd'],
  ['abs-link', 'abs-link', { followFinal: false }],
  ['dir-link/sub/f', 'real/sub/f'],
  ['rel-dir-link/sub/f', 'real/sub/f'],
  ['a/b/up/etc/passwd', 'etc/passwd'],
  ['a/b/up/../../..', ''],
  ['a/rel/f', 'real/sub/f'],
  ['hostroot', ''],
  ['hostroot/etc/shadow', 'etc/shadow'],
  ['../../../etc/passwd', 'etc/passwd'],
  ['/..', ''],
  ['./real//sub/./f/', 'real/sub/f'],
  ['dangling', 'nope/x'],
  ['dangling/more', 'nope/x/more'],
  ['missing/x', 'missing/x'],
  ['real/sub/f/x', 'real/sub/f/x'],
  ['dir-link/sub/..', 'real'],
  ['loop', /too many levels of symbolic links/],
  ['ping/pong', /too many levels of symbolic links/],
  ['chain-ok', 'real'], // 255 links
  ['chain-long', /too many levels of symbolic links/], // 256
];

function memoryView(): MemoryFsView {
  const view = new MemoryFsView();
  for (const [path, spec] of Object.entries(tree)) {
    const owner = { uid: 0, gid: 0 };
    if (path.endsWith('/')) view.set(path, { type: 'dir', mode: 0o755, ...owner });
    else if (spec.startsWith('-> '))
      view.set(path, { type: 'symlink', mode: 0o777, ...owner, linkTarget: spec.slice(3) });
    else view.set(path, { type: 'file', mode: 0o644, ...owner });
  }
  return view;
}

async function diskTree(root: string): Promise<void> {
  for (const [path, spec] of Object.entries(tree)) {
    const abs = join(root, path);
    if (path.endsWith('/')) await mkdir(abs, { recursive: true });
    else if (spec.startsWith('-> ')) await symlink(spec.slice(3), abs);
    else await writeFile(abs, spec);
  }
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-resolve-'));
  await diskTree(root);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const views: [string, (p: string, o: { followFinal?: boolean }) => Promise<string>][] = [
  ['disk', (p, o) => resolveOnDisk(root, p, o)],
  ['memory', async (p, o) => resolveInView(memoryView(), p, o)],
  [
    'stage tree (COPY --from)',
    (p, o) => resolveSource(openDirSource(root), p.replace(/^\/+/, ''), o.followFinal ?? true),
  ],
];

describe.each(views)('the one resolver over %s', (_name, resolve) => {
  it.each(cases)('%s → %s', async (path, expected, options = {}) => {
    if (typeof expected === 'string') await expect(resolve(path, options)).resolves.toBe(expected);
    else await expect(resolve(path, options)).rejects.toThrow(expected);
  });
});

describe('escape: refuse (the build context for COPY)', () => {
  const refuse = { escape: 'refuse' } as const;
  it.each([
    ['abs-link', /abs-link is a symlink to \/etc\/passwd, outside the root/],
    ['a/b/up/etc', /outside the root/],
    ['../x', /points above the root/],
  ])('%s is refused', async (path, message) => {
    await expect(resolveOnDisk(root, path, refuse)).rejects.toMatchObject({ code: 'PATH_OUTSIDE_ROOT' });
    await expect(resolveOnDisk(root, path, refuse)).rejects.toThrow(message);
    expect(() => resolveInRootSync((rel) => (tree[rel] ?? '').match(/^-> (.*)/)?.[1], path, refuse)).toThrow(
      message,
    );
  });

  it('keeps links that stay inside', async () => {
    await expect(resolveOnDisk(root, 'rel-dir-link/sub', refuse)).resolves.toBe('real/sub');
    await expect(resolveOnDisk(root, 'a/rel/f', refuse)).resolves.toBe('real/sub/f');
  });

  it('gives COPY its own words in the build context', async () => {
    const context = await openContextSource(root);
    await expect(resolveSource(context, 'abs-link')).rejects.toMatchObject({
      code: 'COPY_SOURCE_OUTSIDE_CONTEXT',
    });
    await expect(resolveSource(context, 'loop')).rejects.toMatchObject({ code: 'COPY_TOO_MANY_LINKS' });
  });
});

describe('resolveUnder (ADD archive members, the destination as root)', () => {
  it('keeps `up -> ..` inside the destination', () => {
    const view = memoryView();
    view.set('app/up', { type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkTarget: '..' });
    view.set('app/abs', { type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkTarget: '/etc' });
    expect(resolveUnder(view, '/app', 'up/etc')).toBe('app/etc');
    expect(resolveUnder(view, '/app', 'abs')).toBe('app/etc');
    expect(resolveUnder(view, '/app', '../../etc')).toBe('app/etc');
    expect(resolveInView(view, 'app/up/etc')).toBe('etc'); // the image root, for comparison
  });
});

describe('openInRoot', () => {
  it('opens what the link names inside the root, never the host file', async () => {
    const opened = await openInRoot(root, 'abs-link');
    expect(opened?.rel).toBe('etc/passwd');
    expect(await opened?.handle.readFile('utf8')).toBe('in-root passwd');
    await opened?.close();
    const dir = await openInRoot(root, 'hostroot');
    expect(dir).toMatchObject({ rel: '', isDirectory: true });
    await dir?.close();
  });

  it('returns undefined when the resolved path does not exist', async () => {
    await expect(openInRoot(root, 'dangling')).resolves.toBeUndefined();
    await expect(openInRoot(root, 'real/sub/f/x')).resolves.toBeUndefined();
  });

  it('reaches the file through descriptors: the handle reads the checked file', async () => {
    const opened = await openInRoot(root, 'dir-link/sub/f');
    expect(opened?.path).toBe(join(root, 'real/sub/f'));
    expect(await readFile(`/proc/self/fd/${opened?.handle.fd}`, 'utf8')).toBe('f');
    await opened?.close();
  });

  it('refuses a link that appears after resolution (a swap between check and use)', async () => {
    // As if dir-link/sub/f had resolved while dir-link was still a directory.
    await expect(openResolved(root, 'dir-link/sub/f')).rejects.toMatchObject({ code: 'PATH_OUTSIDE_ROOT' });
    await expect(openResolved(root, 'abs-link')).rejects.toThrow(/changed while it was being opened/);
  });

  it('names a socket it cannot open, as a clear error', async () => {
    const { createServer } = await import('node:net');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(root, 'sock'), resolve));
    try {
      await expect(openInRoot(root, 'sock')).rejects.toMatchObject({ code: 'PATH_CANNOT_OPEN' });
    } finally {
      server.close();
    }
  });
});
