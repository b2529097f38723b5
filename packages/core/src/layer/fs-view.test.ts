import { pack as tarPack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { END_OF_ARCHIVE, encodeHeader } from '../tar/header.js';
import { resolveChown } from './chown.js';
import type { LayerEntry } from './entry.js';
import {
  applyLayerRecords,
  cleanImagePath,
  compareNames,
  fsViewFromLayers,
  type LayerRecord,
  MemoryFsView,
  readLayerRecords,
  recordsOfEntries,
  resolveInView,
  sortByNames,
  sortNames,
} from './fs-view.js';
import { globMatch, splitWildcards } from './glob.js';
import { tarStream } from './tar-writer.js';

function layer(
  entries: { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; linkname?: string }[],
) {
  const p = tarPack();
  for (const e of entries)
    p.entry(
      {
        name: e.name,
        type: e.type ?? 'file',
        mode: 0o100644,
        ...(e.linkname ? { linkname: e.linkname } : {}),
      },
      '',
    );
  p.finalize();
  return p as unknown as AsyncIterable<Uint8Array>;
}

describe('fsViewFromLayers', () => {
  it('applies layers in order, honouring whiteouts and opaque directories', async () => {
    const view = await fsViewFromLayers([
      layer([
        { name: 'etc/', type: 'directory' },
        { name: 'etc/a' },
        { name: 'etc/b' },
        { name: 'opt/x/', type: 'directory' },
        { name: 'opt/x/old' },
        { name: 'opt/x/sub/deep' },
      ]),
      layer([
        { name: 'etc/.wh.a' },
        { name: 'opt/x/', type: 'directory' },
        { name: 'opt/x/.wh..wh..opq' },
        { name: 'opt/x/new' },
        { name: 'etc/link', type: 'symlink', linkname: '../opt/x' },
        { name: 'etc/hard', type: 'link', linkname: 'etc/b' },
      ]),
    ]);
    expect([...view.walk()].map(([p, s]) => `${p}:${s.type}`)).toEqual([
      'etc:dir',
      'etc/b:file',
      'etc/hard:file',
      'etc/link:symlink',
      'opt:dir',
      'opt/x:dir',
      'opt/x/new:file',
    ]);
    expect(resolveInView(view, '/etc/link/new')).toBe('opt/x/new');
    expect(resolveInView(view, '/etc/link', { followFinal: false })).toBe('etc/link');
  });

  it('stops at the root and reports symlink loops', () => {
    const view = new MemoryFsView();
    view.set('a', { type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkTarget: '../../../b' });
    view.set('loop', { type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkTarget: 'loop' });
    expect(resolveInView(view, 'a/c')).toBe('b/c');
    expect(() => resolveInView(view, 'loop')).toThrow(/too many levels/);
  });
});

describe('MemoryFsView', () => {
  it('cleans paths as path.posix.normalize does, and leaves clean ones as they are', () => {
    const cases: [string, string][] = [
      ['', ''],
      ['/', ''],
      ['.', ''],
      ['a/b', 'a/b'],
      ['/a//b/', 'a/b'],
      ['a/./b/../c', 'a/c'],
      ['../../x', 'x'],
      ['...', '...'],
      ['.hidden/..x', '.hidden/..x'],
      ['a/..', ''],
    ];
    for (const [given, clean] of cases) expect(cleanImagePath(given), given).toBe(clean);
  });

  it('clones into an independent copy with the same entries', () => {
    const view = new MemoryFsView();
    const root = { type: 'dir', mode: 0o700, uid: 1, gid: 1 } as const;
    view.set('', root);
    view.set('etc/passwd', { type: 'file', mode: 0o644, uid: 0, gid: 0 });
    view.set('bin', { type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkTarget: 'usr/bin' });
    const copy = view.clone();
    expect([...copy.walk()]).toEqual([...view.walk()]);
    expect(copy.lookup('')).toEqual(root);
    copy.set('etc/new', { type: 'file', mode: 0o600, uid: 0, gid: 0 });
    copy.remove('bin');
    view.set('etc/other', { type: 'file', mode: 0o600, uid: 0, gid: 0 });
    expect([...view.walk()].map(([p]) => p)).toEqual(['bin', 'etc', 'etc/other', 'etc/passwd']);
    expect([...copy.walk()].map(([p]) => p)).toEqual(['etc', 'etc/new', 'etc/passwd']);
  });
});

describe('sortNames', () => {
  it('sorts by UTF-8 bytes, as Go does, with or without characters outside the BMP', () => {
    const bytewise = (names: string[]) =>
      [...names].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
    const plain = ['b', 'a-b', 'a.b', 'a', 'A', 'é', 'a/b', '\uffff', '_'];
    expect(sortNames([...plain])).toEqual(bytewise(plain));
    // U+1F600 (a surrogate pair) sorts after U+FFFF in UTF-8, before it in UTF-16 code units
    const astral = [...plain, '😀', 'x😀'];
    expect(sortNames([...astral])).toEqual(bytewise(astral));
    expect(sortNames([...astral])).toEqual([...astral].sort(compareNames));
    const items = astral.map((name) => ({ name }));
    expect(sortByNames(items, (item) => item.name).map((item) => item.name)).toEqual(bytewise(astral));
  });
});

describe('applyLayerRecords', () => {
  /** A small deterministic random source (a test that fails must fail again). */
  function random(seed: number): (n: number) => number {
    let state = seed;
    return (n) => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return Math.floor((state / 2 ** 31) * n); // the high bits: an LCG's low bits repeat quickly
    };
  }

  /** A random layer: mostly plain sets of a depth-first tree, sometimes whiteouts, opaques, hard links. */
  function randomLayer(pick: (n: number) => number, plain: boolean): LayerRecord[] {
    const names = ['a', 'b', 'c', 'a-b', 'a.b'];
    const records: LayerRecord[] = [];
    const put = (dir: string, depth: number) => {
      for (const name of names) {
        if (pick(3) === 0) continue;
        const path = dir === '' ? name : `${dir}/${name}`;
        const owner = { mode: 0o700 + pick(64), uid: pick(3), gid: pick(3) };
        const kind = pick(plain ? 4 : 6);
        if (kind <= 1 && depth < 3) {
          // sometimes without the directory's own entry, as some tools write layers
          if (pick(4) !== 0) records.push({ op: 'set', path, type: 'dir', ...owner });
          put(path, depth + 1);
        } else if (kind <= 2) records.push({ op: 'set', path, type: 'file', ...owner });
        else if (kind === 3) records.push({ op: 'set', path, type: 'symlink', ...owner, link: `../${name}` });
        else if (kind === 4) records.push({ op: 'whiteout', path });
        else if (records.some((r) => r.op === 'set' && r.type === 'file')) {
          const target = records.find((r) => r.op === 'set' && r.type === 'file') as { path: string };
          records.push({ op: 'set', path, type: 'hardlink', ...owner, link: target.path });
        } else records.push({ op: 'opaque', dir });
      }
    };
    put(pick(2) === 0 ? '' : 'a', 0);
    return records;
  }

  /** The same layer applied a record at a time: every record put at once, nothing left for later. */
  function applyEagerly(view: MemoryFsView, records: readonly LayerRecord[]): void {
    if (records.some((record) => record.op !== 'set' || record.type === 'hardlink')) {
      applyLayerRecords(view, records);
    } else for (const record of records) applyLayerRecords(view, [record]);
  }

  it('gives the view of applying every record at once, whatever is looked at in between', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const pick = random(seed);
      const lazy = new MemoryFsView();
      const eager = new MemoryFsView();
      let copies: [MemoryFsView, MemoryFsView] | undefined;
      for (let n = 0; n < 4; n++) {
        const records = randomLayer(pick, pick(3) !== 0);
        applyLayerRecords(lazy, records);
        applyEagerly(eager, records);
        if (n === 1) copies = [lazy.clone(), eager.clone()]; // with what is left for later
        // look at some paths (parts of the lazy view are put, others left for later), set and remove some
        for (let k = 0; k < 3; k++) {
          const path = ['a', 'a/b', 'a/a/c', 'b/a-b', 'c', 'a/b/c/a'][pick(6)] as string;
          expect(lazy.lookup(path), `seed ${seed}, ${path}`).toEqual(eager.lookup(path));
          const change = pick(4);
          const stat = { type: 'file', mode: 0o600, uid: 0, gid: 0 } as const;
          if (change === 0) for (const view of [lazy, eager]) view.set(`${path}/new`, stat);
          else if (change === 1) for (const view of [lazy, eager]) view.remove(path);
        }
      }
      expect([...lazy.walk()], `seed ${seed}`).toEqual([...eager.walk()]);
      const [lazyCopy, eagerCopy] = copies as [MemoryFsView, MemoryFsView];
      lazyCopy.set('a/b/new', { type: 'file', mode: 0o600, uid: 0, gid: 0 });
      eagerCopy.set('a/b/new', { type: 'file', mode: 0o600, uid: 0, gid: 0 });
      expect([...lazyCopy.walk()], `seed ${seed}, a copy`).toEqual([...eagerCopy.walk()]);
    }
  });

  it('gives what applying at once gives under random sequences of layers, sets, removes, looks and clones', () => {
    // The reference applies every layer at once: a whiteout of nothing makes a layer not plain.
    const atOnce = (records: LayerRecord[]): LayerRecord[] => [...records, { op: 'whiteout', path: 'zz' }];
    for (let seed = 1; seed <= 5000; seed++) {
      const pick = random(seed);
      const path = (depth = 1 + pick(4)) =>
        Array.from({ length: depth }, () => ['a', 'b', 'c'][pick(3)] as string).join('/');
      const layerOf = (): LayerRecord[] => {
        const records: LayerRecord[] = [];
        for (let n = 1 + pick(8); n > 0; n--) {
          const at = path();
          const owner = { mode: pick(8), uid: pick(2), gid: 0 };
          const kind = pick(8);
          if (kind < 3) {
            records.push({ op: 'set', path: at, type: 'dir', ...owner });
            // often a run of records below it, as depth-first layers are
            for (let k = pick(2) * (1 + pick(4)); k > 0; k--) {
              records.push({
                op: 'set',
                path: `${at}/${path(1 + pick(2))}`,
                type: pick(2) ? 'file' : 'dir',
                ...owner,
              });
            }
          } else if (kind < 5) records.push({ op: 'set', path: at, type: 'file', ...owner });
          else if (kind < 6) records.push({ op: 'set', path: at, type: 'symlink', ...owner, link: 'x' });
          else if (kind < 7) records.push({ op: 'whiteout', path: at });
          else records.push({ op: 'opaque', dir: at });
        }
        return records;
      };
      let lazy = new MemoryFsView();
      let eager = new MemoryFsView();
      const done: string[] = [];
      for (let step = 0; step < 10; step++) {
        const kind = pick(7);
        const at = path();
        if (kind <= 2) {
          const records = layerOf().filter((record) => pick(3) > 0 || record.op === 'set');
          done.push(`layer ${JSON.stringify(records)}`);
          applyLayerRecords(lazy, records);
          applyLayerRecords(eager, atOnce(records));
        } else if (kind === 3) {
          const stat = { type: pick(2) ? 'file' : 'dir', mode: 1, uid: 0, gid: 0 } as const;
          done.push(`set ${at} ${stat.type}`);
          lazy.set(at, stat);
          eager.set(at, stat);
        } else if (kind === 4) {
          done.push(`remove ${at}`);
          expect(lazy.remove(at), done.join('\n')).toBe(eager.remove(at));
        } else if (kind === 5) {
          done.push(`look ${at}`);
          expect(lazy.lookup(at), done.join('\n')).toEqual(eager.lookup(at));
          expect(lazy.list(at), done.join('\n')).toEqual(eager.list(at));
        } else {
          done.push('clone');
          lazy = lazy.clone();
          eager = eager.clone();
        }
      }
      expect([...lazy.walk()], done.join('\n')).toEqual([...eager.walk()]);
    }
  });

  it('gives the same view whether or not a step looked in between (a directory remembered below a new batch)', () => {
    const dir = (path: string): LayerRecord => ({
      op: 'set',
      path,
      type: 'dir',
      mode: 0o755,
      uid: 0,
      gid: 0,
    });
    const file = (path: string): LayerRecord => ({
      op: 'set',
      path,
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
    });
    const build = (look: boolean, layers: LayerRecord[][]) => {
      const view = new MemoryFsView();
      for (const [n, records] of layers.entries()) {
        applyLayerRecords(view, records);
        if (look && n === 1) view.lookup('a/b'); // a COPY planned from scratch looks, a replayed one does not
      }
      return [...view.walk()];
    };
    // a later layer's a/b (a file) replaces the directory an earlier one made without its own entry
    const layers = [[file('a/b/x')], [dir('a'), file('a/b')], [file('a/b/y')]];
    expect(build(false, layers)).toEqual(build(true, layers));
    expect(build(false, layers).find(([path]) => path === 'a/b')?.[1].type).toBe('dir');
    expect(build(false, [[file('a/b/x'), dir('a'), file('a/b'), dir('c'), file('a/b/y')]])).toEqual(
      build(true, [[file('a/b/x'), dir('a'), file('a/b'), dir('c'), file('a/b/y')]]),
    );
    // a whiteout of a directory whose parent had records pending
    const removed = build(false, [
      [dir('a'), file('a/b/x')],
      [{ op: 'whiteout', path: 'a/b' }],
      [file('a/b/y')],
    ]);
    expect(removed.map(([path]) => path)).toEqual(['a', 'a/b', 'a/b/y']);
  });

  it('puts a directory of a plain layer only once something looks into it', () => {
    const view = new MemoryFsView();
    const records: LayerRecord[] = [
      { op: 'set', path: 'app', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
      { op: 'set', path: 'app/node_modules', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
      { op: 'set', path: 'app/node_modules/x.js', type: 'file', mode: 0o644, uid: 0, gid: 0 },
      { op: 'set', path: 'etc', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
    ];
    applyLayerRecords(view, records);
    expect(view.lookup('app/src')).toBeUndefined();
    expect(view.list('app')).toEqual(['node_modules']);
    expect(view.lookup('app/node_modules/x.js')).toEqual({ type: 'file', mode: 0o644, uid: 0, gid: 0 });
    // replaced before anyone looked: what was below it is gone, as when put at once
    applyLayerRecords(view, records.slice(0, 3));
    view.set('app/node_modules', { type: 'file', mode: 0o644, uid: 0, gid: 0 });
    expect(view.list('app')).toEqual(['node_modules']);
    expect(view.lookup('app/node_modules/x.js')).toBeUndefined();
  });
});

describe('readLayerRecords', () => {
  const header = (name: string, type: 'file' | 'directory' | 'symlink', extra = {}) =>
    encodeHeader({ name, type, mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0, ...extra });

  it('reads long names, link targets and big ids from PAX records', async () => {
    const long = `opt/${'x'.repeat(200)}`;
    const tar = Buffer.concat([
      header(long, 'file', { uid: 3_000_000, gid: 70 }),
      header('opt/link', 'symlink', { linkname: `/${long}` }),
      END_OF_ARCHIVE,
    ]);
    expect(await readLayerRecords([tar])).toEqual([
      { op: 'set', path: long, type: 'file', mode: 0o644, uid: 3_000_000, gid: 70 },
      { op: 'set', path: 'opt/link', type: 'symlink', mode: 0o644, uid: 0, gid: 0, link: `/${long}` },
    ]);
  });

  it('reports a tar it cannot read as FS_BAD_LAYER', async () => {
    const tar = Buffer.concat([header('a', 'file'), END_OF_ARCHIVE]);
    tar[0] = 0x62;
    await expect(readLayerRecords([tar])).rejects.toMatchObject({
      code: 'FS_BAD_LAYER',
      message: expect.stringContaining('Invalid tar header'),
    });
  });
});

describe('globMatch (Go filepath.Match)', () => {
  it.each([
    ['*.txt', 'a.txt', true],
    ['*', 'a/b', false],
    ['a?c', 'abc', true],
    ['a?c', 'a/c', false],
    ['[a-c]x', 'bx', true],
    ['[^a-c]x', 'dx', true],
    ['[!a]x', 'bx', false],
    ['\\*', '*', true],
    ['dir[AB]', 'dirA', true],
    ['[c-a]', 'b', false],
  ] as const)('%s vs %s → %s', (pattern, name, expected) => {
    expect(globMatch(pattern, name)).toBe(expected);
  });
  it('rejects malformed patterns and splits at the first wildcard', () => {
    expect(() => globMatch('[', 'x')).toThrow(/malformed/);
    expect(() => globMatch('a\\', 'a')).toThrow(/malformed/);
    expect(() => globMatch('[]', 'a')).toThrow(/malformed/);
    expect(splitWildcards('a/b/c*/d')).toEqual({ base: 'a/b', rest: 'c*/d' });
    expect(splitWildcards('a/b\\*')).toEqual({ base: 'a/b\\*', rest: '' });
  });
});

describe('resolveChown', () => {
  const files: Record<string, string> = {
    '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1001::/home/app:/bin/sh\n',
    '/etc/group': 'root:x:0:\nstaff:x:50:\n',
  };
  const read = async (p: string) => files[p];
  it.each([
    ['1000', { uid: 1000, gid: 1000 }],
    ['1000:7', { uid: 1000, gid: 7 }],
    ['app', { uid: 1000, gid: 1001 }],
    ['app:staff', { uid: 1000, gid: 50 }],
    ['5:staff', { uid: 5, gid: 50 }],
    [':staff', { uid: 0, gid: 50 }],
  ])('%s', async (spec, owner) => {
    expect(await resolveChown(spec, read)).toEqual(owner);
  });
  it('names unknown users and groups', async () => {
    await expect(resolveChown('nobody', read)).rejects.toMatchObject({ code: 'COPY_UNKNOWN_USER' });
    await expect(resolveChown('app:wheel', read)).rejects.toMatchObject({ code: 'COPY_UNKNOWN_GROUP' });
    await expect(resolveChown('app', async () => undefined)).rejects.toMatchObject({
      code: 'COPY_UNKNOWN_USER',
    });
  });
});

const owner = { mode: 0o755, uid: 0, gid: 0 };
const bytes = (text: string) => ({ kind: 'bytes' as const, data: Buffer.from(text) });

describe('recordsOfEntries', () => {
  it('gives what reading the tar of the same entries gives', async () => {
    const entries: LayerEntry[] = [
      { type: 'dir', path: 'app', ...owner },
      { type: 'file', path: 'app/.wh..wh..opq', mode: 0, uid: 0, gid: 0, size: 0, content: bytes('') },
      {
        type: 'file',
        path: 'app/server.js',
        mode: 0o644,
        uid: 1000,
        gid: 1000,
        size: 2,
        content: bytes('hi'),
      },
      {
        type: 'hardlink',
        path: 'app/same.js',
        mode: 0o644,
        uid: 1000,
        gid: 1000,
        linkTarget: 'app/server.js',
      },
      { type: 'symlink', path: 'app/current', mode: 0o777, uid: 0, gid: 0, linkTarget: '../srv' },
      { type: 'file', path: '.wh.tmp', mode: 0, uid: 0, gid: 0, size: 0, content: bytes('') },
      { type: 'dir', path: 'etc', mode: 0o4755, uid: 5, gid: 6 },
      { type: 'file', path: 'etc/.wh.motd', mode: 0, uid: 0, gid: 0, size: 0, content: bytes('') },
    ];
    const fromTar = await readLayerRecords(tarStream(entries, { mtime: 0 }));
    expect(recordsOfEntries(entries)).toEqual(fromTar);
    expect(fromTar.map((r) => r.op)).toEqual([
      'set',
      'opaque',
      'set',
      'set',
      'set',
      'whiteout',
      'set',
      'whiteout',
    ]);
  });
});
