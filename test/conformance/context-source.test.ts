import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walkContext } from '../../packages/core/src/layer/context-walk.js';
import { openContextSource, type SourceTree } from '../../packages/core/src/layer/source.js';
import { peerSuite } from './peer-suites.js';

// The lazy context source (directories read when a COPY looks into them) must see exactly what the
// whole walk sees. The tree and the pattern lists come from the peer suite's patternmatcher cases
// (moby/patternmatcher v0.6.1, read in place from the peer suites).
const cases = JSON.parse(readFileSync(peerSuite('dockerignore', 'dockerignore-cases.json'), 'utf8')) as {
  patterns: string[];
  path: string;
}[];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'wharf-source-'));
  // Every path a case names, as a file unless another path lies below it.
  const names = new Set(
    cases
      .map((c) => path.posix.normalize(c.path.replace(/\\/g, '/')).replace(/^(\.\/|\/)+|\/+$/g, ''))
      .filter((p) => p && p !== '.' && !p.split('/').includes('..')),
  );
  const dirs = new Set(
    [...names].flatMap((p) =>
      p
        .split('/')
        .slice(0, -1)
        .map((_, i, a) => a.slice(0, i + 1).join('/')),
    ),
  );
  for (const name of names) {
    const abs = path.join(dir, name);
    if (dirs.has(name)) await mkdir(abs, { recursive: true });
    else {
      await mkdir(path.dirname(abs), { recursive: true });
      await writeFile(abs, name);
    }
  }
  await mkdir(path.join(dir, 'deep/a/b'), { recursive: true });
  await writeFile(path.join(dir, 'deep/a/b/file.txt'), 'x');
  await symlink('deep/a', path.join(dir, 'link-to-a'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every path below the root, as a depth-first traversal through readdir and lstat sees it. */
async function traverse(source: SourceTree, relDir = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of await source.readdir(relDir)) {
    const relPath = relDir === '' ? name : `${relDir}/${name}`;
    const stat = await source.lstat(relPath);
    expect(stat, relPath).toBeDefined();
    out.push(`${relPath}:${stat?.type}:${stat?.size}:${stat?.linkTarget ?? ''}`);
    if (stat?.type === 'dir') out.push(...(await traverse(source, relPath)));
  }
  return out;
}

async function walked(ignore: string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const e of walkContext(dir, { ignore })) {
    out.push(`${e.relPath}:${e.type}:${e.size}:${e.linkTarget ?? ''}`);
  }
  return out;
}

const patternLists = [
  [],
  ...new Map(
    cases
      .filter((c) => c.patterns.length > 0 && !c.patterns.some((p) => p.startsWith('!')))
      .map((c) => [JSON.stringify(c.patterns), c.patterns]),
  ).values(),
];

describe('openContextSource reads directories lazily', () => {
  it('has pattern lists and a tree to check', async () => {
    expect(patternLists.length).toBeGreaterThan(40);
    expect((await readdir(dir)).length).toBeGreaterThan(10);
  });

  it.each(patternLists.map((p) => [JSON.stringify(p), p]))(
    'sees what the walk sees with %s',
    async (_, ignore) => {
      const patterns = ignore as string[];
      const expected = await walked(patterns).catch((error: Error) => error);
      const lazily = async () => traverse(await openContextSource(dir, { ignore: patterns }));
      // A pattern the matcher refuses is refused by both, with the same message (some when compiled,
      // some, as in Go's patternmatcher, on the first match: for the lazy source, a COPY's first look).
      if (expected instanceof Error) await expect(lazily()).rejects.toThrow(expected.message);
      else expect(await lazily()).toEqual(expected);
    },
  );

  it('answers lstat of a path without reading unrelated directories, and undefined below a file', async () => {
    const source = await openContextSource(dir, { ignore: ['deep/a/b'] });
    expect((await source.lstat('deep/a'))?.type).toBe('dir');
    expect(await source.lstat('deep/a/b')).toBeUndefined();
    expect(await source.lstat('deep/a/b/file.txt')).toBeUndefined();
    expect(await source.lstat('link-to-a/b')).toBeUndefined(); // a symlink is not a directory here
    expect(await source.readdir('link-to-a')).toEqual([]);
  });

  it('walks the whole context when an exception may re-include something', async () => {
    const ignore = ['deep', '!deep/a/b/file.txt'];
    const source = await openContextSource(dir, { ignore });
    expect(await traverse(source)).toEqual(await walked(ignore));
    expect((await source.lstat('deep/a/b/file.txt'))?.type).toBe('file');
  });
});
