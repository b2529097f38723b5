import { execFileSync } from 'node:child_process';
import { chmod, link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ContextEntry, readContextIgnore, walkContext } from './context-walk.js';

// Pass-through mock that records which directories the walker reads. It can also refuse a directory
// with EACCES: tests run as root, where chmod 000 cannot make a directory unreadable.
const readDirs: string[] = [];
const unreadable = new Set<string>();
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...actual,
    readdir: (dir: string, ...rest: unknown[]) => {
      readDirs.push(dir);
      if (unreadable.has(dir)) {
        return Promise.reject(
          Object.assign(new Error(`EACCES: permission denied, scandir '${dir}'`), { code: 'EACCES' }),
        );
      }
      return (actual.readdir as (...args: unknown[]) => unknown)(dir, ...rest);
    },
  };
});

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'wharf-walk-'));
  readDirs.length = 0;
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Creates files (content = path) and directories (trailing slash). */
async function tree(paths: string[]): Promise<void> {
  for (const p of paths) {
    const abs = path.join(dir, p);
    if (p.endsWith('/')) {
      await mkdir(abs, { recursive: true });
    } else {
      await mkdir(path.dirname(abs), { recursive: true });
      await writeFile(abs, p);
    }
  }
}

async function collect(options?: Parameters<typeof walkContext>[1]): Promise<ContextEntry[]> {
  const out: ContextEntry[] = [];
  for await (const entry of walkContext(dir, options)) out.push(entry);
  return out;
}

async function paths(options?: Parameters<typeof walkContext>[1]): Promise<string[]> {
  return (await collect(options)).map((e) => (e.type === 'dir' ? `${e.relPath}/` : e.relPath));
}

describe('walkContext order', () => {
  it('walks depth-first in byte order of names within each directory, like filepath.WalkDir', async () => {
    await tree(['b', 'a.txt', 'a/y/z', 'a/x', 'A', '_', 'a-b', 'é', '\u{1F600}', '\uFFFD', 'B/']);
    expect(await paths({ ignore: [] })).toEqual([
      'A',
      'B/',
      '_',
      'a/',
      'a/x',
      'a/y/',
      'a/y/z',
      'a-b',
      'a.txt',
      'b',
      'é',
      '\uFFFD', // U+FFFD (EF BF BD) sorts before U+1F600 (F0 9F 98 80) in UTF-8, unlike UTF-16
      '\u{1F600}',
    ]);
  });

  it('reports posix relative paths and absolute paths, never the root itself', async () => {
    await tree(['d/e/f']);
    const entries = await collect({ ignore: [] });
    expect(entries.map((e) => [e.relPath, e.absPath])).toEqual([
      ['d', path.join(dir, 'd')],
      ['d/e', path.join(dir, 'd/e')],
      ['d/e/f', path.join(dir, 'd/e/f')],
    ]);
  });
});

describe('walkContext ignore rules', () => {
  it('reads <dir>/.dockerignore when no patterns are given, and sends .dockerignore and Dockerfile', async () => {
    await tree(['Dockerfile', 'src/main.ts', 'node_modules/x/index.js', 'debug.log', 'src/app.log']);
    await writeFile(path.join(dir, '.dockerignore'), '# deps\nnode_modules\n**/*.log\n');
    expect(await paths()).toEqual(['.dockerignore', 'Dockerfile', 'src/', 'src/main.ts']);
    expect(await readContextIgnore(dir)).toEqual(['node_modules', '**/*.log']);
  });

  it('excludes .dockerignore and the Dockerfile only when a pattern says so', async () => {
    await tree(['Dockerfile', 'a']);
    await writeFile(path.join(dir, '.dockerignore'), '.dockerignore\nDockerfile\n');
    expect(await paths()).toEqual(['a']);
  });

  it('uses the given patterns instead of the file; [] walks everything', async () => {
    await tree(['a', 'b']);
    await writeFile(path.join(dir, '.dockerignore'), 'a\n');
    expect(await paths({ ignore: ['b'] })).toEqual(['.dockerignore', 'a']);
    expect(await paths({ ignore: [] })).toEqual(['.dockerignore', 'a', 'b']);
  });

  it('reads no .dockerignore when there is none', async () => {
    await tree(['a']);
    expect(await readContextIgnore(dir)).toEqual([]);
    expect(await paths()).toEqual(['a']);
  });

  it('skips an excluded directory without reading it when no exception can reach inside', async () => {
    await tree(['node_modules/a/b/c.js', 'src/x.ts']);
    expect(await paths({ ignore: ['node_modules'] })).toEqual(['src/', 'src/x.ts']);
    expect(readDirs.map((d) => path.relative(dir, d))).toEqual(['', 'src']);
  });

  it('re-includes a file inside an excluded directory, sending its parent directories first', async () => {
    await tree([
      'build/keep/a.txt',
      'build/keep/b.txt',
      'build/other/c.txt',
      'build/z.txt',
      'dist/d.txt',
      'x',
    ]);
    const patterns = ['build', 'dist', '!build/keep/a.txt'];
    expect(await paths({ ignore: patterns })).toEqual(['build/', 'build/keep/', 'build/keep/a.txt', 'x']);
    // only directories on the way to the exception are read
    expect(readDirs.map((d) => path.relative(dir, d))).toEqual(['', 'build', 'build/keep']);
  });

  it('descends everywhere excluded when an exception has a wildcard', async () => {
    await tree(['dist/x.keep', 'dist/y', 'dist/sub/z.keep', 'tmp/a', 'src/b.keep']);
    expect(await paths({ ignore: ['dist', 'tmp', '!**/*.keep'] })).toEqual([
      'dist/',
      'dist/sub/',
      'dist/sub/z.keep',
      'dist/x.keep',
      'src/',
      'src/b.keep',
    ]);
    expect(readDirs.map((d) => path.relative(dir, d))).toContain('tmp');
  });

  it('keeps the whole excluded directory when an exception names it', async () => {
    await tree(['docs/a.md', 'docs/img/b.png', 'other']);
    expect(await paths({ ignore: ['*', '!docs'] })).toEqual([
      'docs/',
      'docs/a.md',
      'docs/img/',
      'docs/img/b.png',
    ]);
  });

  it('skips an unreadable excluded directory, as fsutil does', async () => {
    await tree(['secret/x', 'a']);
    unreadable.add(path.join(dir, 'secret'));
    try {
      expect(await paths({ ignore: ['secret', '!**/*.md'] })).toEqual(['a']);
    } finally {
      unreadable.clear();
    }
  });

  it('decides like BuildKit where its parent-result shortcut differs from MatchesOrParentMatches', async () => {
    await tree(['a/b', 'a/c']);
    // matches('a/b') is true here, but BuildKit's walk (MatchesUsingParentResults) sends a/b
    expect(await paths({ ignore: ['a', '!a/b', 'a'] })).toEqual(['a/', 'a/b']);
  });

  it('fails with IGNORE_BAD_PATTERN on a malformed .dockerignore', async () => {
    await tree(['a']);
    await writeFile(path.join(dir, '.dockerignore'), 'ok\n[oops\n');
    await expect(collect()).rejects.toMatchObject({ code: 'IGNORE_BAD_PATTERN' });
  });
});

describe('walkContext entries', () => {
  it('reports files and directories with lstat metadata', async () => {
    await tree(['f']);
    await chmod(path.join(dir, 'f'), 0o640);
    const [entry] = await collect({ ignore: [] });
    expect(entry).toMatchObject({ relPath: 'f', type: 'file', size: 1, nlink: 1 });
    expect((entry?.mode ?? 0) & 0o7777).toBe(0o640);
    expect((entry?.mode ?? 0) & 0o170000).toBe(0o100000);
    expect(typeof entry?.ino).toBe('bigint');
    expect(typeof entry?.uid).toBe('number');
    expect(entry?.mtimeMs).toBeGreaterThan(0);
    expect(entry?.mtimeNs).toBeGreaterThan(0n);
    expect(entry?.linkTarget).toBeUndefined();
  });

  it('reports symlinks with their target and never follows them', async () => {
    await tree(['real/inner.txt']);
    await symlink('real', path.join(dir, 'link-dir'));
    await symlink('/etc', path.join(dir, 'link-out'));
    await symlink('missing', path.join(dir, 'link-dangling'));
    const entries = await collect({ ignore: [] });
    expect(entries.map((e) => [e.relPath, e.type, e.linkTarget])).toEqual([
      ['link-dangling', 'symlink', 'missing'],
      ['link-dir', 'symlink', 'real'],
      ['link-out', 'symlink', '/etc'],
      ['real', 'dir', undefined],
      ['real/inner.txt', 'file', undefined],
    ]);
    expect(entries.find((e) => e.relPath === 'link-out')?.size).toBe(4);
  });

  it('matches symlinks by their own path, like any file', async () => {
    await tree(['real/inner.txt']);
    await symlink('real', path.join(dir, 'link'));
    expect(await paths({ ignore: ['real'] })).toEqual(['link']);
  });

  it('reports hardlinks with a shared inode and link count', async () => {
    await tree(['a/one']);
    await link(path.join(dir, 'a/one'), path.join(dir, 'two'));
    const entries = await collect({ ignore: [] });
    const one = entries.find((e) => e.relPath === 'a/one');
    const two = entries.find((e) => e.relPath === 'two');
    expect(one?.nlink).toBe(2);
    expect(two?.nlink).toBe(2);
    expect(one?.ino).toBe(two?.ino);
    expect(one?.dev).toBe(two?.dev);
  });

  it("reports fifos and sockets as 'other'", async () => {
    await tree(['f']);
    let fifo = true;
    try {
      execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    } catch {
      fifo = false;
    }
    const { createServer } = await import('node:net');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(path.join(dir, 'sock'), resolve));
    try {
      const entries = await collect({ ignore: [] });
      const types = Object.fromEntries(entries.map((e) => [e.relPath, e.type]));
      expect(types).toEqual({ f: 'file', sock: 'other', ...(fifo ? { pipe: 'other' } : {}) });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('walkContext errors', () => {
  it('rejects a missing context', async () => {
    await expect(walkContext(path.join(dir, 'nope')).next()).rejects.toMatchObject({
      code: 'CONTEXT_NOT_FOUND',
    });
  });

  it('rejects a context that is not a directory', async () => {
    await tree(['file']);
    await expect(walkContext(path.join(dir, 'file')).next()).rejects.toMatchObject({
      code: 'CONTEXT_NOT_DIRECTORY',
    });
  });
});
